"""Reading plan files in chunks (batch/chunks.py)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(st.text(alphabet='ab,"\n\r x', max_size=6), min_size=3,
                              max_size=3), min_size=1, max_size=30),
       chunk_rows=st.integers(1, 8), crlf=st.booleans())
def test_csv_blocks_split_only_between_records(tmp_path, rows, chunk_rows, crlf):
    """However the file is cut, the blocks hold exactly the records of the whole file, in
    order, even with quoted commas, quotes and line breaks."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from batch.chunks import csv_blocks

    def field(text):  # RFC 4180; Python's csv leaves a lone "\r" bare with "\n" endings
        return f'"{text.replace(chr(34), 2 * chr(34))}"' if any(
            c in text for c in ',"\r\n') else text

    end = "\r\n" if crlf else "\n"
    path = tmp_path / "t.csv"
    # a record of empty fields would be an empty line, which readers skip
    records = [["a", "b", "c"]] + [r if any(r) else ["x", *r[1:]] for r in rows]
    path.write_bytes("".join(",".join(map(field, r)) + end for r in records).encode())
    whole = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True),
                           convert_options=pacsv.ConvertOptions(
                               column_types={n: pa.string() for n in "abc"},
                               strings_can_be_null=False))
    blocks = list(csv_blocks(path, chunk_rows))
    assert blocks[0].offset == len(b"a,b,c\r\n" if crlf else b"a,b,c\n")
    assert all(b.offset + b.length == c.offset for b, c in zip(blocks, blocks[1:], strict=False))
    assert blocks[-1].offset + blocks[-1].length == path.stat().st_size
    parts = pa.concat_tables([b.read() for b in blocks])
    assert parts.to_pylist() == whole.to_pylist()
