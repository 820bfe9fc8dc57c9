//! Sync jobs over time: a copy is `waiting`, then `running`, then ends `success`, `existed`
//! or `failed` (decided by the target as it is then), or `timeout` / `cancel` when a fault
//! says so. With no durations configured a copy ends at once. The state advances whenever
//! the emulator's data is read (`World::settle`), so no timer is needed.

use chrono::{DateTime, Utc};

use super::state::{stamp, Copying, World};

/// Job status: accepted, not started.
pub const JOB_WAITING: &str = "waiting";
/// Job status: copying.
pub const JOB_RUNNING: &str = "running";
/// Job status: the tag was copied (or overwritten).
pub const JOB_SUCCESS: &str = "success";
/// Job status: the target already had the same image.
pub const JOB_EXISTED: &str = "existed";
/// Job status: the target has a different image under that tag and `override` was false.
pub const JOB_FAILED: &str = "failed";
/// Job status: the copy took too long.
pub const JOB_TIMEOUT: &str = "timeout";
/// Job status: the copy was cancelled.
pub const JOB_CANCEL: &str = "cancel";

impl World {
    /// Moves every copy on to where it stands at `now`; the ended ones change the target.
    pub fn settle(&mut self, now: DateTime<Utc>) {
        if self.unfinished == 0 {
            return;
        }
        let due: Vec<usize> = (0..self.jobs.len())
            .filter(|i| self.jobs[*i].copying.is_some())
            .collect();
        for i in due {
            let copying = self.jobs[i].copying.clone().expect("filtered above");
            if now >= copying.ends_at {
                let status = self.end(&copying, &self.jobs[i].job.tag.clone());
                let record = &mut self.jobs[i];
                record.copying = None;
                self.unfinished -= 1;
                record.job.status = status.into();
                record.job.updated_at = stamp(copying.ends_at);
            } else if now >= copying.runs_at && self.jobs[i].job.status == JOB_WAITING {
                self.jobs[i].job.status = JOB_RUNNING.into();
                self.jobs[i].job.updated_at = stamp(copying.runs_at);
            }
        }
    }

    /// Ends a copy against the target as it is now.
    fn end(&mut self, copying: &Copying, tag: &str) -> &'static str {
        if let Some(status) = copying.forced {
            return status;
        }
        let existing = self
            .repository(&copying.destination)
            .ok()
            .and_then(|repo| repo.tags.get(tag))
            .map(|image| image.digest.clone());
        match existing {
            Some(digest) if digest == copying.digest => JOB_EXISTED,
            Some(_) if !copying.override_existing => JOB_FAILED,
            _ => {
                let checked = "sync targets are checked when accepted";
                self.put_tag(&copying.destination, tag, &copying.digest)
                    .expect(checked);
                JOB_SUCCESS
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::JobTiming;
    use crate::emulator::fixtures::{actor, nginx, world};
    use crate::swr::model::ManualSync;
    use crate::swr::SourceRepo;
    use std::time::Duration;

    fn copy_to_east(w: &mut World, forced: Option<&'static str>) -> String {
        let sync = ManualSync {
            image_tag: vec!["1.25".into()],
            override_existing: false,
            remote_namespace: "platform-dr".into(),
            remote_region_id: "cn-east-3".into(),
        };
        let jobs = w.manual_sync(&nginx(), &sync, &actor(), &mut || forced);
        jobs.unwrap()[0].status.clone()
    }

    fn east_has_the_tag(w: &World) -> bool {
        let east = SourceRepo::new("cn-east-3", "platform-dr", "nginx").unwrap();
        w.repository(&east)
            .is_ok_and(|r| r.tags.contains_key("1.25"))
    }

    fn status(w: &World) -> String {
        w.jobs.last().unwrap().job.status.clone()
    }

    #[test]
    fn copies_wait_run_and_end_against_the_target_as_it_is_then() {
        let mut w = world();
        w.job_timing = JobTiming {
            waiting: Duration::from_secs(10),
            running: Duration::from_secs(10),
        };
        let t0 = Utc::now();
        assert_eq!(copy_to_east(&mut w, None), JOB_WAITING);
        assert!(!east_has_the_tag(&w), "nothing copied yet");
        w.settle(t0 + chrono::Duration::seconds(12));
        assert_eq!(status(&w), JOB_RUNNING);
        w.settle(t0 + chrono::Duration::seconds(25));
        assert_eq!(status(&w), JOB_SUCCESS);
        assert!(east_has_the_tag(&w));

        // A fault's end copies nothing.
        let mut w = world();
        assert_eq!(copy_to_east(&mut w, Some(JOB_TIMEOUT)), JOB_TIMEOUT);
        assert!(!east_has_the_tag(&w));
    }
}
