"""Download, resume, checksum and safe extraction against a local HTTP server on 127.0.0.1."""

import hashlib
import io
import re
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf

from ser.cli import main
from ser.dataset import DownloadError, download, extract_zip, fetch_ravdess

ARCHIVE = "Audio_Speech_Actors_01-24.zip"
CLIPS = [
    "Actor_01/03-01-01-01-01-01-01.wav",
    "Actor_01/03-01-05-02-01-02-01.wav",
    "Actor_02/03-01-08-01-02-01-02.wav",
]
TEST_RATE = 16_000  # Hz; the fake clips are 0.1 s of noise
SERVER_JOIN_S = 5.0
SERVER_POLL_S = 0.05  # shutdown() waits up to one poll interval


def _fake_zip() -> bytes:
    """A zip of tiny RAVDESS-named WAVs laid out as the release (Actor_XX/...)."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for name in CLIPS:
            wav = io.BytesIO()
            sf.write(wav, rng.uniform(-0.1, 0.1, TEST_RATE // 10).astype(np.float32), TEST_RATE,
                     format="WAV", subtype="PCM_16")
            zf.writestr(name, wav.getvalue())
    return buffer.getvalue()


PAYLOAD = _fake_zip()
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


@dataclass
class ServerState:
    """What the handler serves and what it saw."""

    payload: bytes = PAYLOAD
    honour_range: bool = True
    cut_after: int | None = None  # send only this many body bytes once, then drop the connection
    ranges: list = field(default_factory=list)  # the Range header of every request (None if absent)


class ArchiveHandler(BaseHTTPRequestHandler):
    """Serves ``/files/<ARCHIVE>``, honouring ``Range: bytes=N-`` unless told not to."""

    def do_GET(self):
        state = self.server.state
        requested = self.headers.get("Range")
        state.ranges.append(requested)
        if self.path != f"/files/{ARCHIVE}":
            self.send_error(404)
            return
        body, start = state.payload, 0
        match = re.fullmatch(r"bytes=(\d+)-", requested or "")
        if match and state.honour_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        chunk = body[start:]
        if state.cut_after is not None:
            chunk, state.cut_after = chunk[: state.cut_after], None
        self.wfile.write(chunk)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Keep every request on 127.0.0.1 even where a proxy is configured."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.fixture
def server():
    """(url, state) of a threaded HTTP server on 127.0.0.1 at a random port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ArchiveHandler)
    httpd.daemon_threads = True
    httpd.state = ServerState()
    thread = threading.Thread(target=httpd.serve_forever, args=(SERVER_POLL_S,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/files/{ARCHIVE}", httpd.state
    httpd.shutdown()
    httpd.server_close()
    thread.join(SERVER_JOIN_S)


def _extracted(dest):
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*.wav"))


def test_full_download_verify_extract(server, tmp_path):
    url, state = server
    index = fetch_ravdess(tmp_path, url=url, md5=PAYLOAD_MD5, progress=False)
    assert _extracted(tmp_path) == CLIPS
    assert (tmp_path / ARCHIVE).read_bytes() == PAYLOAD
    assert not (tmp_path / (ARCHIVE + ".part")).exists()
    assert len(index.clips) == len(CLIPS) and index.problems == []
    assert state.ranges == [None]
    data, rate = sf.read(index.clips["path"][0])
    assert rate == TEST_RATE and data.shape == (TEST_RATE // 10,)


def test_resume_from_partial_file(server, tmp_path):
    url, state = server
    half = len(PAYLOAD) // 2
    (tmp_path / (ARCHIVE + ".part")).write_bytes(PAYLOAD[:half])
    fetch_ravdess(tmp_path, url=url, md5=PAYLOAD_MD5, progress=False)
    assert state.ranges == [f"bytes={half}-"]
    assert (tmp_path / ARCHIVE).read_bytes() == PAYLOAD
    assert _extracted(tmp_path) == CLIPS


def test_dropped_connection_then_resume(server, tmp_path):
    url, state = server
    state.cut_after = 1000
    with pytest.raises(DownloadError, match="stopped at 1000 of .* run again to resume"):
        download(url, tmp_path / ARCHIVE, progress=False)
    assert (tmp_path / (ARCHIVE + ".part")).stat().st_size == 1000
    part = download(url, tmp_path / ARCHIVE, progress=False)
    assert state.ranges == [None, "bytes=1000-"]
    assert part.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    url, state = server
    state.honour_range = False
    stale = b"stale bytes from an earlier attempt"
    (tmp_path / (ARCHIVE + ".part")).write_bytes(stale)
    part = download(url, tmp_path / ARCHIVE, progress=False)
    assert state.ranges == [f"bytes={len(stale)}-"]
    assert part.read_bytes() == PAYLOAD


def test_complete_partial_file_is_kept(server, tmp_path):
    url, state = server
    (tmp_path / (ARCHIVE + ".part")).write_bytes(PAYLOAD)
    part = download(url, tmp_path / ARCHIVE, progress=False)  # the server answers 416
    assert part.read_bytes() == PAYLOAD
    assert state.ranges == [f"bytes={len(PAYLOAD)}-"]


def test_wrong_checksum_fails_and_extracts_nothing(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match=f"checksum mismatch .* expected MD5 {'0' * 32}, got {PAYLOAD_MD5}"):
        fetch_ravdess(tmp_path, url=url, md5="0" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []  # no audio, no archive, no .part to resume onto


def test_second_run_reuses_the_verified_archive(server, tmp_path):
    url, state = server
    fetch_ravdess(tmp_path, url=url, md5=PAYLOAD_MD5, progress=False)
    fetch_ravdess(tmp_path, url=url, md5=PAYLOAD_MD5, progress=False)
    assert len(state.ranges) == 1


@pytest.mark.parametrize("evil", ["../escaped.wav", "/tmp/absolute.wav", "Actor_01/../../up.wav", "C:/drive.wav"])
def test_extraction_refuses_paths_outside_dest(tmp_path, evil):
    archive, dest = tmp_path / "evil.zip", tmp_path / "dest"
    dest.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(CLIPS[0], b"fine")
        zf.writestr(evil, b"evil")
    with pytest.raises(DownloadError, match="unsafe path in archive"):
        extract_zip(archive, dest)
    assert list(dest.iterdir()) == []  # checked before anything was written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "evil.zip"]


def test_not_a_zip_is_a_clear_error(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"not a zip")
    with pytest.raises(DownloadError, match="not a valid zip archive"):
        extract_zip(archive, tmp_path)


# --- the download command -------------------------------------------------------------------
def test_cli_download_end_to_end(server, tmp_path, capsys):
    url, _ = server
    dest = tmp_path / "ravdess"
    assert main(["data", "download", str(dest), "--url", url, "--md5", PAYLOAD_MD5.upper()]) == 0
    out = capsys.readouterr().out
    assert "3 clips, 2 speakers, 1 corpora, 0 problems" in out and "2 speakers (1 male, 1 female)" in out
    assert _extracted(dest) == CLIPS


def test_cli_download_checksum_error_is_one_line(server, tmp_path, capsys):
    url, _ = server
    assert main(["data", "download", str(tmp_path), "--url", url, "--md5", "f" * 32]) == 2
    err = capsys.readouterr().err  # the progress bar's lines, then one error line
    assert err.splitlines()[-1].startswith("error: checksum mismatch") and err.count("error:") == 1
    assert _extracted(tmp_path) == []


def test_cli_download_http_error_is_one_line(server, tmp_path, capsys):
    url, _ = server
    assert main(["data", "download", str(tmp_path), "--url", url.replace(ARCHIVE, "missing.zip")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "HTTP 404" in err and err.count("\n") == 1


def test_cli_download_unreachable_server(tmp_path, capsys):
    probe = ThreadingHTTPServer(("127.0.0.1", 0), ArchiveHandler)
    port = probe.server_address[1]
    probe.server_close()  # nothing listens on this port now
    assert main(["data", "download", str(tmp_path), "--url", f"http://127.0.0.1:{port}/{ARCHIVE}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach") and err.count("\n") == 1


def test_cli_rejects_malformed_md5(tmp_path, capsys):
    assert main(["data", "download", str(tmp_path), "--md5", "xyz"]) == 2
    assert "not a 32-digit hex MD5" in capsys.readouterr().err
