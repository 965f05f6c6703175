#!/usr/bin/env bash
# The essay preset on three real recordings, fitted into a time budget.
#
#     bash bench/essay_real_music.sh [HOURS=1] [OUT=essay-real-music]
#
# The recordings come from a registry package, fetched here (never at run time by wavecore):
# Debian's drascula-music, the soundtrack of the game "Drascula: The Vampire Strikes Back"
# (Alcachofa Soft, DFSG-free, BSD-like licence). Three 30 s excerpts (from 20 s into tracks 1, 2
# and 14) are cut, mixed to mono and resampled to 16 kHz; then
#     wavecore study CLIPS --preset essay --hours HOURS --out OUT
# prints its plan, trains, and writes OUT/report.html.
set -euo pipefail
HOURS=${1:-1}
OUT=${2:-essay-real-music}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download drascula-music >/dev/null 2>&1 && dpkg-deb -x drascula-music_*.deb x)
mkdir -p "$OUT-clips"
python - "$work/x/usr/share/scummvm/drascula/audio" "$OUT-clips" <<'PY'
import os
import sys

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

src, dst = sys.argv[1:]
for k, track in enumerate((1, 2, 14)):
    a, sr = sf.read(os.path.join(src, f"track{track}.ogg"), dtype="float32", always_2d=True)
    a = a[20 * sr:50 * sr].mean(axis=1)
    a = resample_poly(a, 16000 // 100, sr // 100).astype(np.float32)
    sf.write(os.path.join(dst, f"{k + 1}_track{track}.wav"), a, 16000)
PY
wavecore study "$OUT-clips"/*.wav --preset essay --hours "$HOURS" --out "$OUT"
