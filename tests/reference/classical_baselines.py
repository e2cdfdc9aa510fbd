#!/usr/bin/python3
"""Classical one-step forecasts of a monthly series, the baselines `train` is measured against (issue 15).

Usage (Debian's python, which sees python3-statsmodels; run from the repository root):

    apt-get install -y python3-statsmodels   # Debian 12: statsmodels 0.13.5
    /usr/bin/python3 tests/reference/classical_baselines.py SERIES.csv [SEASON]

The split is `train`'s: the last round(0.2 n) values are held out, the rest fits. Each model's parameters (and
initial states) are estimated on the fitted part only, then the model is run through the whole series with those
parameters fixed, and scored on its one-step forecasts of the held-out values (RMSE and MAE), as `train` scores
its network. Prints one line per model.
"""

import math
import sys
import warnings

import numpy as np
import pandas as pd
import statsmodels
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.statespace.sarimax import SARIMAX


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    path = sys.argv[1]
    season = int(sys.argv[2]) if len(sys.argv) == 3 else 12
    # The last column, as `train` reads a timestamp,value file by default.
    y = pd.read_csv(path).iloc[:, -1].astype(float).to_numpy()
    n = len(y)
    held_out = round(0.2 * n)  # half to even, as C#'s Math.Round in Trainer
    fit = n - held_out
    actual = y[fit:]

    def line(name, forecast):
        error = np.asarray(forecast) - actual
        rmse = float(np.sqrt(np.mean(error**2)))
        mae = float(np.mean(np.abs(error)))
        print(f"{name:<34} {rmse:10.4f} {mae:10.4f}")

    print(f"# {path}: {n} values, fitted on the first {fit}, one-step forecasts of the last {held_out} "
          f"(statsmodels {statsmodels.__version__}, parameters fixed after the fit)")
    print(f"{'model':<34} {'RMSE':>10} {'MAE':>10}")
    line("naive", y[fit - 1:n - 1])
    line("seasonal naive", y[fit - season:n - season])

    with warnings.catch_warnings():
        # statsmodels warns about frequency-less arrays and, for some series, about convergence; the numbers stand.
        warnings.simplefilter("ignore")
        sarima = SARIMAX(y[:fit], order=(1, 1, 1), seasonal_order=(0, 1, 1, season)).fit(disp=False)
        applied = sarima.apply(y)
        line(f"SARIMA (1,1,1)(0,1,1,{season})", applied.predict()[fit:])
        sarima_intervals = applied.get_prediction()

        ets_spec = dict(error="add", trend="add", seasonal="add", seasonal_periods=season)
        ets = ETSModel(y[:fit], **ets_spec).fit(disp=False)
        # smooth() runs the filter with the given parameters, the estimated initial states among them.
        line("ETS (A,A,A)", ETSModel(y, **ets_spec).smooth(ets.params).fittedvalues[fit:])

    # A season ahead from each held-out origin t (parameters still fixed): as `train` scores its network rolled forward.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        origins = range(fit - 1, n - season)
        truth = np.array([y[t + season] for t in origins])
        ahead = {
            "seasonal naive": np.array([y[t] for t in origins]),
            f"SARIMA (1,1,1)(0,1,1,{season})": np.array([sarima.apply(y[:t + 1]).forecast(season)[-1] for t in origins]),
            "ETS (A,A,A)": np.array([ETSModel(y[:t + 1], **ets_spec).smooth(ets.params).forecast(season)[-1] for t in origins]),
        }
    for name, forecast in ahead.items():
        print(f"{season} ahead, {name:<25} RMSE {float(np.sqrt(np.mean((forecast - truth)**2))):10.4f}  ({len(truth)} origins)")

    # SARIMA's own Gaussian one-step intervals on the same values: what `train`'s interval coverage compares with.
    mean = np.asarray(sarima_intervals.predicted_mean)[fit:]
    sd = np.asarray(sarima_intervals.se_mean)[fit:]
    covered = {}
    for level in (0.8, 0.95):
        bounds = np.asarray(sarima_intervals.conf_int(alpha=1 - level))[fit:]
        covered[level] = float(np.mean((actual >= bounds[:, 0]) & (actual <= bounds[:, 1])))
    z = (actual - mean) / sd
    phi = np.exp(-z**2 / 2) / np.sqrt(2 * np.pi)
    big_phi = 0.5 * (1 + np.vectorize(math.erf)(z / np.sqrt(2)))
    crps = float(np.mean(sd * (z * (2 * big_phi - 1) + 2 * phi - 1 / np.sqrt(np.pi))))
    print(f"SARIMA intervals: {covered[0.8]:.1%} inside 80 %, {covered[0.95]:.1%} inside 95 %, CRPS {crps:.4f}")


if __name__ == "__main__":
    main()
