# The schedule 2 CPU cores can afford, sourced by scripts/train.sh and
# scripts/leave_one_out.sh (SCHEDULE=cpu) so a leave-one-out row and the
# recipe from nothing train alike. Batch 32 fits 2 cores' caches; 9 x 400
# steps, the schedule 1.1.0 and 1.2.0 trained at on these cores (about 50
# minutes when nothing else runs).
# shellcheck disable=SC2034  # read by the scripts that source this file
CPU_SCHEDULE=(--batch-size 32 --samples-per-epoch 12800 --epochs 9 --warmup-steps 200 --workers 1)
