#!/usr/bin/env bash
# The leave-one-source-out runs (training/README.md): each fake source is left
# out of training and of choosing the epoch, then scored. The same schedule
# for every row; a finished run (its .json is written last) is kept, an
# interrupted one resumes. RECIPES picks which rows: "new" (with the fakes
# made from real faces, half the fake draws), "old" (without), "made" (four
# fifths of the fake draws made from real faces), "mid" (three fifths, between
# the two). SCHEDULE picks how long: "short"
# (800 steps of 32 faces, 20-40 min a row on 2 cores: every row so far) or
# "cpu" (scripts/cpu_schedule.sh, the recipe's own: about an hour a row).
# ROWS picks which sources are left out: "sdfd" (the diffusion source), "nogan"
# (every GAN: stylegan_ffhq and genphotos); both by default. The report covers
# the rows run here and the shipped model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_training.sh
.venv/bin/python -m training.prepare
.venv/bin/python -m training.synthesize
case "${SCHEDULE:-short}" in
    short) schedule=(--epochs 5 --samples-per-epoch 5120 --batch-size 32 --warmup-steps 80 --workers 1); tag="" ;;
    cpu) source scripts/cpu_schedule.sh; schedule=("${CPU_SCHEDULE[@]}"); tag="_cpu" ;;
    *) echo "SCHEDULE is short or cpu, not ${SCHEDULE}" >&2; exit 2 ;;
esac
old_fakes=(--fake-weights dfdc=0.2 lfw_faceswap=0.08 stylegan_ffhq=0.1 sdfd=0.1 genphotos=0.07)
made_fakes=(--fake-weights dfdc=0.08 lfw_faceswap=0.04 stylegan_ffhq=0.04 sdfd=0.04 genphotos=0.03
            reconstruction=0.45 self_blend=0.32)
mid_fakes=(--fake-weights dfdc=0.14 lfw_faceswap=0.06 stylegan_ffhq=0.07 sdfd=0.06 genphotos=0.05
           reconstruction=0.36 self_blend=0.26)
runs=()
for recipe in ${RECIPES:-new old}; do
    for row in ${ROWS:-sdfd nogan}; do
        case "$row" in
            sdfd) left_out="sdfd" ;;
            nogan) left_out="stylegan_ffhq genphotos" ;;
            *) echo "ROWS holds sdfd or nogan, not ${row}" >&2; exit 2 ;;
        esac
        out="runs/loso/${recipe}${tag}_without_${left_out// /_}.pt"
        extra=()
        case "$recipe" in
            new) ;;
            old) extra=("${old_fakes[@]}") ;;
            made) extra=("${made_fakes[@]}") ;;
            mid) extra=("${mid_fakes[@]}") ;;
            *) echo "RECIPES holds new, old, made or mid, not ${recipe}" >&2; exit 2 ;;
        esac
        if [[ ! -f "${out%.pt}.json" ]]; then
            resume=()
            [[ -f "${out%.pt}.ckpt" ]] && resume=(--resume)
            # shellcheck disable=SC2086
            .venv/bin/python -u -m training.train --out "$out" --leave-out $left_out \
                "${schedule[@]}" "${extra[@]}" "${resume[@]}"
        fi
        runs+=("$out")
    done
done
exec .venv/bin/python -m training.leave_one_out "${runs[@]}" --shipped shipped_model --out "runs/loso/leave_one_out${tag}.json"
