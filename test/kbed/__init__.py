"""kbed: the Kubernetes test bed on the real control plane (DESIGN §7).

The command line is in cli.py (`python3 -m kbed`, or scripts/bed); the
control plane in controlplane.py, the bed's network namespace and the host
relay in netns.py, certificates in pki.py. The node agent (Nodes, Pods as
processes, volumes, DNS, Service routing, faults) is the subpackage agent.
"""
