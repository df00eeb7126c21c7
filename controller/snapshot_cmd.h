/*
 * snapshot_cmd.h — `etcd-controller snapshot-fetch`, the first step of a
 * restore Pod (backup_pod.c): download a snapshot, check it, and leave it
 * for `etcdutl snapshot restore`, with member 0's ids recorded beside the
 * data dir as a founding records them.
 */
#ifndef EO_CONTROLLER_SNAPSHOT_CMD_H
#define EO_CONTROLLER_SNAPSHOT_CMD_H

/* argv[0] is "snapshot-fetch". Exit status 0; 3 the snapshot is missing or
 * fails its checks (the controller then reports the cluster Failed and
 * does not retry); 1 anything else (retried); 2 bad arguments. */
int snapcmd_fetch_main(int argc, char **argv);

/* `etcd-controller snapshot-save`: one snapshot to a file or S3 through the
 * controller's own streaming code, with its figures as one JSON line (for
 * the benchmark and by hand). argv[0] is "snapshot-save". */
int snapcmd_save_main(int argc, char **argv);

/* `etcd-controller snapshot-receive --dir DIR [--port 8080]` (backup_recv.c):
 * the Pod that stores a PVC EtcdBackup's snapshots; token in $BACKUP_TOKEN. */
int snapcmd_receive_main(int argc, char **argv);

#endif
