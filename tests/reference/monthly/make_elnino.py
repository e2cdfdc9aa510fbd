#!/usr/bin/python3
"""Flattens statsmodels' elnino dataset (one row a year, JAN..DEC columns) into tests/reference/monthly/elnino.csv.

Run from the repository root: /usr/bin/python3 tests/reference/monthly/make_elnino.py
"""
import statsmodels.api as sm

data = sm.datasets.elnino.load_pandas().data
months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
assert not data.isna().any().any()
with open("tests/reference/monthly/elnino.csv", "w") as f:
    f.write("timestamp,value\n")
    for _, row in data.iterrows():
        for m, name in enumerate(months, 1):
            f.write(f"{int(row['YEAR']):04d}-{m:02d}-01,{repr(float(row[name]))}\n")
