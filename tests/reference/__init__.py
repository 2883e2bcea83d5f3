"""Reference distributions as literal facts: what kubeadm, k3s and RKE2 really
write on a node and show through the API, with the source of every file cited
where it is built. Pure data for unit tests; no I/O."""
