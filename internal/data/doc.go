// Package data reads training and evaluation data into a column-major
// Dataset: CSV and TSV files with a header (delimiter given or detected, CRLF,
// quoted fields, TRUE/FALSE, empty fields as missing, string columns as
// categories) and LibSVM files (sparse; the feature id is the column index,
// as XGBoost and LightGBM use it, so a 1-based file has an empty column f0;
// query groups from qid: or a FILE.query sidecar of group sizes, as
// LightGBM writes it).
//
// Conventions:
//   - a missing value is NaN; in LibSVM an absent feature is missing, as in
//     XGBoost (not zero);
//   - a categorical value is stored as its index in Column.Categories;
//   - labels TRUE/True/true read as 1 and FALSE/False/false as 0.
//
// Every error names the file, line and column at fault and says what would be
// valid. Files are read in one streaming pass; the data set's sha256 is
// computed on the way, for lineage.
package data
