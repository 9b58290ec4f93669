//! `records.parquet` (cargo feature `parquet`): the rows of `records.csv` as an Apache Parquet
//! file with typed columns, for pandas/polars/DuckDB/R users with large sweeps.
//!
//! The file is made from the CSV text itself, so the two cannot disagree: every column of the
//! CSV is a column of the file, in the same order, with the same name. Types: the counters and
//! times of [`super::csv::RECORDS_COLUMNS`] and the sweep's `point` are `INT64`
//! (`status`, `round_trips`: `INT32`), `latency_ms` is `DOUBLE`, `new_connection` is
//! `BOOLEAN`, everything else (experiment, axis values, flow, procedure, variant, outcome,
//! result, cause, node names) is a `UTF8` string. Snappy-compressed, one row group per
//! [`ROW_GROUP`] rows, no file-level key/value metadata, so the same records give the same
//! bytes.

use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression, ConvertedType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use crate::sweep::parse_csv;

/// Rows per row group.
pub const ROW_GROUP: usize = 1 << 20;

/// The Parquet type of a `records.csv` column.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Column {
    Int64,
    Int32,
    Double,
    Bool,
    Text,
}

/// The type of column `name` (see the module documentation).
pub fn column_type(name: &str) -> Column {
    match name {
        "point" | "seed" | "start_ns" | "end_ns" | "bytes" | "overhead_bytes" => Column::Int64,
        "status" | "round_trips" => Column::Int32,
        "latency_ms" => Column::Double,
        "new_connection" => Column::Bool,
        _ => Column::Text,
    }
}

/// Writes the rows of `records_csv` (a `records.csv` text, header first) to `path`.
pub fn write_from_csv(records_csv: &str, path: &Path) -> Result<(), String> {
    let rows = parse_csv(records_csv);
    let header = rows.first().ok_or("records.csv is empty")?;
    let body: Vec<&Vec<String>> = rows.iter().skip(1).filter(|r| r.len() == header.len()).collect();
    let types: Vec<Column> = header.iter().map(|h| column_type(h)).collect();
    let fields = header
        .iter()
        .zip(&types)
        .map(|(name, t)| {
            let (physical, converted) = match t {
                Column::Int64 => (Physical::INT64, ConvertedType::NONE),
                Column::Int32 => (Physical::INT32, ConvertedType::NONE),
                Column::Double => (Physical::DOUBLE, ConvertedType::NONE),
                Column::Bool => (Physical::BOOLEAN, ConvertedType::NONE),
                Column::Text => (Physical::BYTE_ARRAY, ConvertedType::UTF8),
            };
            Type::primitive_type_builder(name, physical)
                .with_repetition(Repetition::REQUIRED)
                .with_converted_type(converted)
                .build()
                .map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let schema = Type::group_type_builder("secsim_records")
        .with_fields(fields)
        .build()
        .map_err(|e| e.to_string())?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("secsim {}", env!("CARGO_PKG_VERSION")))
        .build();
    let tmp = crate::run::lock::temp_path(path);
    let file = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut w = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props)).map_err(|e| e.to_string())?;
    let bad = |c: usize, v: &str| format!("records.csv column `{}`: `{v}` is not a {:?}", header[c], types[c]);
    for chunk in body.chunks(ROW_GROUP) {
        let mut g = w.next_row_group().map_err(|e| e.to_string())?;
        for (c, t) in types.iter().enumerate() {
            let mut col = g
                .next_column()
                .map_err(|e| e.to_string())?
                .ok_or("fewer columns than the schema")?;
            let cells = chunk.iter().map(|r| r[c].as_str());
            let written = match t {
                Column::Int64 => {
                    let v = cells
                        .map(|x| x.parse::<i64>().map_err(|_| bad(c, x)))
                        .collect::<Result<Vec<_>, _>>()?;
                    col.typed::<Int64Type>().write_batch(&v, None, None)
                }
                Column::Int32 => {
                    let v = cells
                        .map(|x| x.parse::<i32>().map_err(|_| bad(c, x)))
                        .collect::<Result<Vec<_>, _>>()?;
                    col.typed::<Int32Type>().write_batch(&v, None, None)
                }
                Column::Double => {
                    let v = cells
                        .map(|x| x.parse::<f64>().map_err(|_| bad(c, x)))
                        .collect::<Result<Vec<_>, _>>()?;
                    col.typed::<DoubleType>().write_batch(&v, None, None)
                }
                Column::Bool => {
                    let v = cells
                        .map(|x| match x {
                            "1" | "true" => Ok(true),
                            "0" | "false" => Ok(false),
                            _ => Err(bad(c, x)),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    col.typed::<BoolType>().write_batch(&v, None, None)
                }
                Column::Text => {
                    let v: Vec<ByteArray> = cells.map(|x| ByteArray::from(x.as_bytes().to_vec())).collect();
                    col.typed::<ByteArrayType>().write_batch(&v, None, None)
                }
            };
            written.map_err(|e| e.to_string())?;
            col.close().map_err(|e| e.to_string())?;
        }
        g.close().map_err(|e| e.to_string())?;
    }
    w.close().map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    use super::*;

    /// Every cell read back by the crate's own reader equals the CSV cell, typed.
    #[test]
    fn parquet_rows_read_back_as_the_csv_rows() {
        let csv = "experiment,point,recovery,seed,flow,procedure,variant,outcome,result,cause,status,initiator,responder,via,start_ns,end_ns,latency_ms,new_connection,bytes,round_trips,overhead_bytes\n\
                   x,0,\"CcfPush(A,B)\",1,storm,capif_invocation,PSK,ok,,,200,inv-1,aef,,10,2000010,2.000000,1,300,1,0\n\
                   x,1,TlsFailureOnly,2,storm,capif_recovery,TlsFailureOnly,unfinished,,,0,inv-2,aef,,5,99,0.000094,0,0,0,0\n";
        let dir = std::env::temp_dir().join(format!("secsim-parquet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("records.parquet");
        write_from_csv(csv, &path).unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
        let rows: Vec<_> = reader.get_row_iter(None).unwrap().map(|r| r.unwrap()).collect();
        let want = parse_csv(csv);
        for (row, want) in rows.iter().zip(want.iter().skip(1)) {
            let cells: Vec<String> = row
                .get_column_iter()
                .map(|(_, f)| match f {
                    Field::Str(s) => s.clone(),
                    Field::Long(v) => v.to_string(),
                    Field::Int(v) => v.to_string(),
                    Field::Double(v) => format!("{v:.6}"),
                    Field::Bool(b) => u8::from(*b).to_string(),
                    other => panic!("unexpected field {other:?}"),
                })
                .collect();
            assert_eq!(&cells, want);
        }
        // Same records, same bytes.
        let first = std::fs::read(&path).unwrap();
        write_from_csv(csv, &path).unwrap();
        assert_eq!(first, std::fs::read(&path).unwrap());
        // A cell of the wrong type is an error naming the column, not a panic.
        let err = write_from_csv("seed,flow\nx,f\n", &path).unwrap_err();
        assert!(err.contains("`seed`"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
