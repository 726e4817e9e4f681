#!/bin/bash
# Submits a netsweep sweep as a Slurm job array of SHARDS tasks, AT_ONCE of them running at a
# time, and the merge of their journals after the last one ends:
#
#   deploy/slurm/submit.sh 16 8
#
# Environment: NETSWEEP_RUN_ID (default: sweep-<UTC time>), and what sweep.sbatch and
# merge.sbatch read (NETSWEEP, NETSWEEP_RESULTS, NETSWEEP_INVENTORY, NETSWEEP_KNOWN_HOSTS,
# NETSWEEP_WORKERS). sbatch passes the environment on to both jobs.
set -euo pipefail

shards="${1:?usage: submit.sh SHARDS [AT_ONCE]}"
at_once="${2:-$shards}"
here="$(cd "$(dirname "$0")" && pwd)"

export NETSWEEP_SHARD_COUNT="$shards"
export NETSWEEP_RUN_ID="${NETSWEEP_RUN_ID:-sweep-$(date -u +%Y%m%dT%H%M%SZ)}"

# --parsable prints "jobid" or "jobid;cluster".
sweep="$(sbatch --parsable --array="0-$((shards - 1))%${at_once}" "$here/sweep.sbatch")"
sweep="${sweep%%;*}"
merge="$(sbatch --parsable --dependency="afterany:${sweep}" "$here/merge.sbatch")"
merge="${merge%%;*}"

echo "run ${NETSWEEP_RUN_ID}: array job ${sweep} (${shards} shards, ${at_once} at once), merge job ${merge}"
echo "merged journal: ${NETSWEEP_RESULTS:-$HOME/netsweep/results}/${NETSWEEP_RUN_ID}/merged.jsonl"
echo "failed shards again: NETSWEEP_RUN_ID=${NETSWEEP_RUN_ID} NETSWEEP_SHARD_COUNT=${shards} sbatch --array=<indexes> ${here}/sweep.sbatch"
