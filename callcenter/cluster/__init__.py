"""Several nodes, one call centre (docs/cluster.md): every node's AMI as one client, the ACD
leader's lease with its fencing term, and what a new leader learns before taking calls."""
