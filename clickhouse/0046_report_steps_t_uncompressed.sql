-- footpath.report_steps.t stored without compression.
--
-- Every report on the views reads t for every row of the range (the engine filters on it and
-- streams it), and decoding it was the largest single cost of that read: Delta + LZ4 saved
-- only a third of its bytes (t is unix ms << 21 | sequence number, sorted by container
-- first, so its deltas are large and irregular), and undoing them cost ~85 ms of CPU per
-- 10M rows on the 2-core machine, of a session report's ~700 ms (sum(t) over the site's rows:
-- 123-130 ms with the codec, 30-40 without).  Measured on the 10M-event benchmark
-- (BENCHMARKS.md, Reports): fallout by session 709-715 -> 636-657 ms CPU, paths by session
-- 820-831 -> 706-737; 26 MiB more on disk per 10M rows (48 -> 74 MiB for t, the table
-- 105 -> 131 MiB).  ck keeps LZ4: it compresses ~9x (long runs of one container) and costs
-- ~20 ms to decode.
--
-- Parts written before this keep their codec until a merge rewrites them (OPTIMIZE TABLE
-- footpath.report_steps FINAL does it at once); reading either kind gives the same values.
ALTER TABLE footpath.report_steps{on_cluster}
    MODIFY COLUMN t UInt64 CODEC(NONE) COMMENT 'unix ms << 21 | min(seq, 2^20 - 1)';
