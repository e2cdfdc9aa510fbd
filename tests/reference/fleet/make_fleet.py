"""A fleet of short series for `train`'s one-model-for-a-fleet showcase: 128 devices, each 72 months (6 years) of the
Mauna Loa CO2 series from its own start, as a sensor of its own would read it -- its own offset, gain (units) and noise.

    /usr/bin/python3 tests/reference/fleet/make_fleet.py > tests/reference/fleet/devices.csv

Device d reads  gain_d * (co2[start_d + t] + offset_d) + noise,  noise ~ N(0, (gain_d * sigma_d)^2), with
start_d uniform over the series, offset_d uniform in [-40, 40] ppm, gain_d log-uniform in [0.1, 10] and sigma_d
log-uniform in [0.05, 1.5] ppm (so some devices are near-clean, others mostly noise). Deterministic (seed 15).
Output: a long CSV, device,timestamp,value, the devices one after another, each in time order.
"""
import csv
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CO2 = os.path.join(HERE, "..", "..", "..", "silo", "RnnStreams.Silo", "models", "co2_mauna_loa.csv")
DEVICES, MONTHS = 128, 72

with open(CO2) as f:
    rows = list(csv.reader(f))[1:]
times = [r[0] for r in rows]
co2 = np.array([float(r[1]) for r in rows])

rng = np.random.default_rng(15)
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["device", "timestamp", "value"])
for d in range(DEVICES):
    start = int(rng.integers(0, len(co2) - MONTHS + 1))
    offset = rng.uniform(-40, 40)
    gain = float(np.exp(rng.uniform(np.log(0.1), np.log(10))))
    sigma = float(np.exp(rng.uniform(np.log(0.05), np.log(1.5))))
    noise = rng.normal(0, gain * sigma, MONTHS)
    for t in range(MONTHS):
        value = gain * (co2[start + t] + offset) + noise[t]
        out.writerow([f"device-{d:03d}", times[start + t], f"{value:.5g}"])
