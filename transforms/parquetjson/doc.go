// Package parquetjson reads the rows of a Parquet file as JSON objects, one
// object per row with its keys in schema order, so Parquet datasets (as the
// Hugging Face hub serves them) feed the same record operations as JSON
// Lines shards.
//
// Row groups are decoded one after another, a batch of rows at a time, so
// memory is bounded by a row group's pages, not by the file.
//
// # Encoding
//
// Values are written as encoding/json would write the matching Go value
// with SetEscapeHTML(false), with these choices for the types JSON lacks:
//
//	Parquet type                          JSON
//	BOOLEAN                               true, false
//	INT32, INT64, INT(n, signed)          integer, exact (never through float64)
//	INT(n, unsigned), UINT_n              integer, exact, up to 18446744073709551615
//	FLOAT, DOUBLE, FLOAT16                number, shortest form that round-trips;
//	                                      NaN and ±Inf, which JSON cannot hold, are null
//	STRING, ENUM (UTF8)                   string; invalid UTF-8 is an error
//	JSON                                  the embedded JSON, compacted onto one line;
//	                                      invalid JSON is an error
//	BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY      string: standard base64 with padding, as
//	without a string type (also BSON,     Arrow writes binary to JSON
//	GEOMETRY, GEOGRAPHY, INTERVAL)
//	UUID                                  "123e4567-e89b-12d3-a456-426614174000"
//	DECIMAL (any physical type)           number with exactly scale fraction digits:
//	                                      unscaled -5, scale 2 → -0.05
//	DATE                                  "2006-01-02"
//	TIME                                  "15:04:05.000" with 3, 6 or 9 fraction digits
//	                                      for MILLIS, MICROS, NANOS
//	TIMESTAMP                             RFC 3339 in UTC, "2006-01-02T15:04:05.000000Z",
//	                                      with 3, 6 or 9 fraction digits for MILLIS,
//	                                      MICROS, NANOS. A timestamp not adjusted to
//	                                      UTC (a "local" or naive one, as pandas
//	                                      writes) is written the same way: its wall
//	                                      clock digits followed by Z.
//	INT96 (legacy timestamp)              as TIMESTAMP with 9 fraction digits
//	null (optional value absent)          null
//	group                                 object, fields in schema order
//	LIST, repeated field                  array; an empty list is [] and a null list null
//	MAP                                   object of key/value members in file order;
//	                                      a key that is not a JSON string (a number,
//	                                      a boolean) is written as a string of its
//	                                      JSON text: {"1":"one"}
//
// LIST follows the backward-compatibility rules of the Parquet format
// (two-level lists, "array" and "_tuple" element groups); a LIST or MAP
// annotation on a group of an unexpected shape is read as a plain group.
// Dates and timestamps outside the years 0-9999, which RFC 3339 cannot
// write, and the VARIANT logical type are errors.
//
// # Errors
//
// An error names the row, counted from 1 over the whole file, and the
// column by its dotted Parquet path ("items.list.element.name"). A page that
// fails to decode is reported with the first row of its page. Malformed
// files on which the Parquet library panics give an error instead.
package parquetjson
