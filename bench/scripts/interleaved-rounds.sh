#!/bin/bash
# interleaved-rounds.sh DIR OUT ROUNDS GROUP...: interleaved rounds of the headline benches (nnd and its PyTorch twin
# back to back) in the checkout DIR, one JSON line per run appended to OUT; groups: sae tc tc4 clt molt spd.
dir=$1; out=$2; rounds=$3; shift 3
cd "$dir"
declare -A G
G[sae]="sae --type topk --act-size 768 --dict-size 12288 --batch 4096 --k 32 --steps 5|sae-pytorch --type topk --act-size 768 --dict-size 12288 --batch 4096 --k 32 --steps 5"
G[tc]="transcoder --type topk --d-in 768 --d-out 768 --dict-size 12288 --batch 4096 --k 32 --steps 5|transcoder-pytorch --type topk --d-in 768 --d-out 768 --dict-size 12288 --batch 4096 --k 32 --steps 5"
G[tc4]="transcoder --type vanilla --d-in 768 --d-out 768 --dict-size 12288 --batch 4096 --steps 5|transcoder-pytorch --type vanilla --d-in 768 --d-out 768 --dict-size 12288 --batch 4096 --steps 5|transcoder --type batchtopk --d-in 768 --d-out 768 --dict-size 12288 --batch 4096 --k 32 --steps 5|transcoder-pytorch --type batchtopk --d-in 768 --d-out 768 --dict-size 12288 --batch 4096 --k 32 --steps 5|transcoder --type jumprelu --d-in 768 --d-out 768 --dict-size 12288 --batch 4096 --steps 5|transcoder-pytorch --type jumprelu --d-in 768 --d-out 768 --dict-size 12288 --batch 4096 --steps 5"
G[clt]="clt --layers 4 --d-model 768 --dict-size 4096 --batch 4096 --k 16 --steps 5|transcoder --type topk --d-in 768 --d-out 768 --dict-size 4096 --batch 4096 --k 16 --steps 5|clt-pytorch --layers 4 --d-model 768 --dict-size 4096 --batch 4096 --k 16 --steps 3"
G[molt]="molt --d-model 768 --n 8 --batch 4096 --k 16 --steps 3 --warmup 2|molt-pytorch --d-model 768 --n 8 --batch 4096 --k 16 --steps 3 --warmup 1"
G[spd]="spd --model tiny-lm --modules mlp --c 256 --batch 8 --seq 128|spd-pytorch --model tiny-lm --modules mlp --c 256 --batch 8 --seq 128"
for r in $(seq 1 $rounds); do
  for g in "$@"; do
    IFS='|' read -ra cmds <<< "${G[$g]}"
    for c in "${cmds[@]}"; do
      res=$(/usr/bin/time -f '%M' -o /tmp/nnd-bench-time.$$ pnpm --silent bench $c --json 2>/dev/null | tail -1)
      [[ -z "$res" ]] && res=null
      echo "{\"round\":$r,\"group\":\"$g\",\"cmd\":\"$c\",\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\",\"time_maxrss_kb\":$(cat /tmp/nnd-bench-time.$$ | tail -1),\"result\":$res}" >> "$out"
    done
  done
done
