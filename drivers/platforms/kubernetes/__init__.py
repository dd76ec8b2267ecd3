"""Kubernetes: the pool's vGPUs for pods, through DRA (and a device-plugin fallback).

``pooling-k8s`` runs three parts, all clients of the pool's REST API (as the ``openstack`` CLI
is) and of the Kubernetes API: the controller publishes ResourceSlices and DeviceClasses from
the pool; the kubelet plugin (one per node) prepares allocated claims into pool vGPUs and answers
with CDI device ids; the device plugin is the fallback for clusters without DRA.
"""
