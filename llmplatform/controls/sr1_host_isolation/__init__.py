"""SR1 host isolation: the admission rule keeping pods off the node's network, PID, IPC, ports and privilege."""
