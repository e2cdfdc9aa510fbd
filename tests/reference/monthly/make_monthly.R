# Writes R datasets' monthly ts objects to NAME.csv (timestamp,value; YYYY-MM-01; oldest first).
# Run from the repository root: Rscript tests/reference/monthly/make_monthly.R
out <- "tests/reference/monthly"
write_ts <- function(x, name) {
  x <- as.ts(x)
  stopifnot(frequency(x) == 12, !anyNA(x))
  t <- round(as.numeric(time(x)) * 12)        # months since year 0
  stamp <- sprintf("%04d-%02d-01", t %/% 12, t %% 12 + 1)
  value <- vapply(as.numeric(x), function(v) format(v, scientific = FALSE, digits = 15), "")
  writeLines(c("timestamp,value", paste(stamp, value, sep = ",")), file.path(out, paste0(name, ".csv")))
  cat(sprintf("%-26s %s..%s %d\n", name, stamp[1], stamp[length(stamp)], length(x)))
}
last <- function(x, k) { n <- length(x); window(x, start = time(x)[n - k + 1]) }
for (n in c("nottem", "UKDriverDeaths", "USAccDeaths", "ldeaths", "mdeaths", "fdeaths")) write_ts(get(n), n)
write_ts(last(sunspots, 480), "sunspots")               # 1944-01..1983-12
write_ts(last(sunspot.month, 480), "sunspot_month")     # 1973-10..2013-09
# Seatbelts: 'drivers' is UKDriverDeaths and 'law' a 0/1 indicator, so both are left out.
for (col in c("DriversKilled", "front", "rear", "kms", "PetrolPrice", "VanKilled"))
  write_ts(Seatbelts[, col], paste0("Seatbelts_", col))
