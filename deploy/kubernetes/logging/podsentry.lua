-- SPDX-License-Identifier: GPL-2.0-only
-- Records of events.json that name a pod are shipped from the pod's own
-- log: drop them here (-1), keep the rest unchanged (0).
function without_pod(tag, timestamp, record)
    if record["pod"] ~= nil then
        return -1, timestamp, record
    end
    return 0, timestamp, record
end
