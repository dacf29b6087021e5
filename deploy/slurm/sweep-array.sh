#!/usr/bin/env bash
# The shipped example sweep (client load x retry attempts, 10 seeds: 360 runs) as a Slurm job
# array of 4 shards. Slurm gives each task SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT;
# `--shards` reads the ID (counted from SLURM_ARRAY_TASK_MIN, so --array=1-4 works too).
# A task that is requeued resumes its shard (`--resume`) instead of starting it over.
#
# Submit from the repository's root (OUT must be on a file system every node sees):
#   job=$(sbatch --parsable deploy/slurm/sweep-array.sh)
#   sbatch --dependency=afterok:$job --wrap "faultline sweep merge reports/metastable-sweep"
#
#SBATCH --job-name=faultline-sweep
#SBATCH --array=0-3
#SBATCH --cpus-per-task=2
#SBATCH --mem=1G
#SBATCH --time=00:30:00
#SBATCH --requeue
#SBATCH --output=faultline-sweep-%A_%a.log
set -euo pipefail
FAULTLINE=${FAULTLINE:-faultline}
OUT=${OUT:-reports/metastable-sweep}
SEEDS=${SEEDS:-1..=10}
exec "$FAULTLINE" sweep scenarios/metastable_retries.ron \
  --set 'clients.shoppers.load.rate_per_s=150..=350:25' \
  --set 'clients.shoppers.policies[0].max_attempts=1,2,3,4' \
  --seeds "$SEEDS" \
  --shards "${SLURM_ARRAY_TASK_COUNT:?run this with sbatch (SLURM_ARRAY_TASK_COUNT is not set)}" \
  -j "${SLURM_CPUS_PER_TASK:-2}" --resume --quiet --out "$OUT"
