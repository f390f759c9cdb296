package loadcheck

import "github.com/loadcheck/loadcheck/fleet"

// Every generator behind the one seam: a type that drifts from the
// interface fails to compile here, not at the CLI that chooses it.
var (
	_ Generator = InProcess{}
	_ Generator = Shards{}
	_ Generator = fleet.Swarm{}
	_ Generator = fleet.Kubernetes{}
)
