-- Argo CD health of an ImageSyncRule, from its kstatus conditions.
--   Suspended   spec.suspend is set
--   Progressing no status yet, the operator has not seen the current generation, or the
--               rule is Reconciling (including retries after throttling or API errors)
--   Degraded    Stalled=True: the rule needs a user's action (InvalidSpec, Conflict,
--               CredentialsMissing, AuthFailed, SourceNotFound)
--   Healthy     Ready=True for the current generation
local hs = { status = "Progressing", message = "Waiting for the operator" }
if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "spec.suspend is set"
  return hs
end
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
local ready, stalled
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then ready = c end
  if c.type == "Stalled" then stalled = c end
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. (stalled.message or "")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ready.reason
  return hs
end
if ready ~= nil then
  hs.message = ready.reason .. ": " .. (ready.message or "")
end
return hs
