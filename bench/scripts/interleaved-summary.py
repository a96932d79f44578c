import sys,json,statistics as st,collections
rows=collections.defaultdict(list)
for l in open(sys.argv[1]):
    d=json.loads(l); r=d['result']
    if not r: print('FAILED', d['cmd']); continue
    rows[d['cmd']].append((r['ms_per_step'], r.get('cpu_ms_per_step'), r.get('peak_rss_mb'), r.get('first_step_ms'), d['load'], d['time_maxrss_kb']))
for c,v in rows.items():
    print(f"{c[:95]:95s} ms/step {[round(x[0]) for x in v]} median {round(st.median([x[0] for x in v]))} cpu {[round(x[1]) if x[1] else None for x in v]} peak {[round(x[2]) if x[2] else None for x in v]} timeRSS {[round(x[5]/1024) for x in v]} first {[round(x[3]) if x[3] else None for x in v]} load {[x[4] for x in v]}")
