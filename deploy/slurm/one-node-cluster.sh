#!/bin/bash
# Starts a one-node Slurm cluster on this machine (slurmctld + slurmd on localhost, munge for auth), all state
# in one folder, so the shipped array job can be run for real without a cluster: CI does, and so can a user who
# wants to try deploy/slurm before taking it to theirs. Needs Debian's slurmctld, slurmd, slurm-client and munge
# packages and root (slurmd starts jobs as their user).
#
#   eval "$(deploy/slurm/one-node-cluster.sh start /tmp/ld-slurm)"   # prints: export SLURM_CONF=...
#   sbatch ...; squeue
#   deploy/slurm/one-node-cluster.sh stop /tmp/ld-slurm
set -euo pipefail

cmd="${1:?usage: one-node-cluster.sh start|stop DIR}"
dir="${2:?usage: one-node-cluster.sh start|stop DIR}"

stop() {
  for d in slurmd slurmctld munged; do
    if [ -f "$dir/$d.pid" ]; then kill "$(cat "$dir/$d.pid")" 2>/dev/null || true; fi
  done
  # slurmd and slurmctld take a moment to let go of their ports and pid files
  for _ in $(seq 50); do
    alive=0
    for d in slurmd slurmctld munged; do
      [ -f "$dir/$d.pid" ] && kill -0 "$(cat "$dir/$d.pid")" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "one-node-cluster.sh: unknown command '$cmd' (start or stop)" >&2; exit 2; }

for bin in munged slurmctld slurmd sbatch; do
  command -v "$bin" >/dev/null || { echo "one-node-cluster.sh: '$bin' not found: apt-get install slurmctld slurmd slurm-client munge" >&2; exit 3; }
done
[ "$(id -u)" = 0 ] || { echo "one-node-cluster.sh: run as root (slurmd starts jobs as their owner)" >&2; exit 3; }

mkdir -p "$dir/spool" "$dir/state" "$dir/munge"
chmod 700 "$dir/munge"
host="$(hostname -s)"
cpus="$(nproc)"
mem_mb="$(awk '/MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)"
# Free ports: the cluster must not collide with a real one (or a second test cluster) on this machine.
ports="$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')"
read -r ctld_port slurmd_port <<<"$ports"

munge_socket="$dir/munge/munge.socket"
munged --force --socket="$munge_socket" --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" \
  --seed-file="$dir/munge/seed" --key-file="${MUNGE_KEY:-/etc/munge/munge.key}"

cat >"$dir/slurm.conf" <<CONF
ClusterName=ldsurgeon
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$munge_socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -f "$dir/slurm.conf"
slurmd -f "$dir/slurm.conf"
export SLURM_CONF="$dir/slurm.conf"
for _ in $(seq 100); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$dir/slurm.conf"
    exit 0
  fi
  sleep 0.2
done
echo "one-node-cluster.sh: the node never came up; logs in $dir/slurmctld.log and $dir/slurmd.log" >&2
sinfo >&2 || true
stop
exit 1
