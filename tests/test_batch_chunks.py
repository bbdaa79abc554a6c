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


# ---------------------------------------------------------------- awkward files, end to end

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from commands.main import main  # noqa: E402

WORKERS = pytest.mark.parametrize("workers", [1, 2])


def _plan_lines(plans_csv) -> list[str]:
    return plans_csv.read_text().splitlines()


def _only(folder, *names):
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


@WORKERS
def test_a_latin1_byte_names_its_true_row(scorer, plans_csv, tmp_path, workers):
    """Deep in the file, past several chunks: the row in the file, not in its chunk."""
    from batch import score_file
    from riskmodel import DataError

    lines = _plan_lines(plans_csv)
    raw = [line.encode() for line in lines]
    raw[357] = raw[357].replace(b",", b"\xe9,", 1)  # the 357th campaign's id, in Latin-1
    src = tmp_path / "latin.csv"
    src.write_bytes(b"\n".join(raw) + b"\n")
    with pytest.raises(DataError) as info:
        score_file(src, tmp_path / "o.csv", scorer, workers=workers, chunk_rows=40,
                   progress=False)
    message = str(info.value)
    assert "row 357:" in message and "campaign_id" in message
    assert "not UTF-8" in message and "CSV UTF-8" in message
    _only(tmp_path, "latin.csv")


@WORKERS
def test_a_record_with_missing_fields_names_its_true_row(scorer, plans_csv, tmp_path,
                                                        workers):
    from batch import score_file
    from riskmodel import DataError

    lines = _plan_lines(plans_csv)
    lines[333] = lines[333].rsplit(",", 2)[0]
    src = tmp_path / "short.csv"
    src.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"row 333: .*Expected 23 columns, got 21"):
        score_file(src, tmp_path / "o.csv", scorer, workers=workers, chunk_rows=40,
                   progress=False)
    _only(tmp_path, "short.csv")


@WORKERS
def test_a_field_over_four_megabytes_is_scored(scorer, plans_csv, tmp_path, workers):
    from batch import score_file

    df = pd.read_csv(plans_csv, dtype=str, keep_default_na=False)
    df["notes"] = ""
    df.loc[250, "notes"] = "x" * (5 << 20)
    src = tmp_path / "long.csv"
    df.to_csv(src, index=False)
    summary = score_file(src, tmp_path / "o.csv", scorer, workers=workers, chunk_rows=40,
                         progress=False)
    assert summary.scored == 400
    scored = pd.read_csv(tmp_path / "o.csv", dtype=str, keep_default_na=False)
    assert len(scored.loc[250, "notes"]) == 5 << 20


@WORKERS
def test_a_record_longer_than_the_limit_names_its_row(scorer, plans_csv, tmp_path,
                                                     monkeypatch, workers):
    """A quote that is never closed makes the rest of a large file one record: refused
    at its row once past RECORD_BYTES (made small here), without reading on."""
    import batch.chunks as chunks
    from batch import score_file
    from riskmodel import DataError

    monkeypatch.setattr(chunks, "RECORD_BYTES", 1 << 20)  # the forked workers inherit it
    monkeypatch.setattr(chunks, "BLOCK_BYTES", 1 << 18)
    lines = _plan_lines(plans_csv)
    lines[300] = lines[300].replace(",", ',"', 1) + "x" * (3 << 20)
    src = tmp_path / "open.csv"
    src.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"row 300: the record is longer than 1 MiB.*"
                                        r"quote .* never closed"):
        score_file(src, tmp_path / "o.csv", scorer, workers=workers, chunk_rows=40,
                   progress=False)
    _only(tmp_path, "open.csv")


def test_wide_early_rows_do_not_make_huge_blocks(tmp_path):
    """The block size guessed from the first MiB is capped: ten wide rows first, then many
    narrow ones, and no block is much longer than BLOCK_BYTES."""
    from batch.chunks import csv_blocks

    src = tmp_path / "wide.csv"
    with open(src, "w") as f:
        f.write("a,b,c\n")
        for i in range(10):
            f.write(f"{i},{'w' * 300_000},c\n")
        narrow = "".join(f"{i},b,c\n" for i in range(100_000))
        for _ in range(12):  # about 80 MB
            f.write(narrow)
    blocks = list(csv_blocks(src, 100_000))
    assert max(b.length for b in blocks) <= 40 << 20
    assert sum(b.length for b in blocks) + len("a,b,c\n") == src.stat().st_size


@WORKERS
def test_wide_early_rows_are_scored(scorer, plans_csv, tmp_path, workers):
    from batch import score_file

    df = pd.read_csv(plans_csv, dtype=str, keep_default_na=False)
    df["notes"] = ""
    df.loc[:4, "notes"] = "w" * 400_000
    src = tmp_path / "wide.csv"
    df.to_csv(src, index=False)
    summary = score_file(src, tmp_path / "o.csv", scorer, workers=workers, progress=False)
    assert summary.scored == 400


def _peak_kib(args, cwd) -> tuple[int, bytes]:
    """Run a command; its exit code, standard error and peak resident memory (KiB)."""
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=cwd)
    with proc.stderr:
        err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, err, usage.ru_maxrss


def test_a_file_of_zero_bytes_is_refused_quickly_in_little_memory(trained, tmp_path):
    """A 'CSV' of NUL bytes (2 GB in the report; 64 MB here) is refused at its header,
    without reading the whole file into memory; the bound is generous (the defect took
    twice the file's size)."""
    root, _ = trained
    small, big = tmp_path / "small.csv", tmp_path / "zeros.csv"
    small.write_bytes(b"\0" * 1000)
    big.write_bytes(b"\0" * (64 << 20))
    runs = {}
    for src in (small, big):
        runs[src.name] = _peak_kib([sys.executable, "-m", "commands", "score",
                                    "--artifacts", str(root), "--in", str(src),
                                    "--out", str(tmp_path / "o.csv")], tmp_path)
    for name in ("zeros.csv", "small.csv"):
        code, err, _ = runs[name]
        assert code == 1, err.decode()[-2000:]
        assert b"Traceback" not in err and b"the header row" in err, err.decode()[-2000:]
    assert runs["zeros.csv"][2] < runs["small.csv"][2] + 48 * 1024
    _only(tmp_path, "small.csv", "zeros.csv")


@pytest.mark.parametrize("head", ["long-name", "nul", "latin1", "never-ends"])
def test_a_header_that_cannot_be_names_is_a_clear_error(runner, trained, plans_csv,
                                                        tmp_path, head):
    root, _ = trained
    lines = _plan_lines(plans_csv)
    body = ("\n".join(lines[1:]) + "\n").encode()
    header = lines[0].encode()
    if head == "long-name":  # over the csv module's field limit (128 KiB)
        header += b"," + b"n" * (200 << 10)
        body = b"".join(line + b",x\n" for line in body.splitlines())
    elif head == "nul":
        header = header.replace(b",", b"\0", 1)
    elif head == "latin1":
        header = header.replace(b"campaign_id", b"campa\xefgn_id")
    elif head == "never-ends":
        header += b"," + b"n" * (2 << 20)
    src = tmp_path / "plans.csv"
    src.write_bytes(header + b"\n" + body)
    res = runner.invoke(main, ["score", "--artifacts", str(root), "--in", str(src),
                               "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit), repr(res.exception)  # no traceback
    assert "the header row" in res.output and "plans.csv" in res.output
    _only(tmp_path, "plans.csv")
