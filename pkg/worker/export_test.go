package worker

import "github.com/otterscale/kubectl-otterscale/pkg/worker/spawn"

// StartedEnv is what a Pool sets in a worker's environment, so that a
// test binary can tell that it was started as a (fake) worker.
const StartedEnv = spawn.StartedEnv
