"""facekit.milvus against Milvus Lite: decisions as the device's, galleries in and out, bad input, and faults
(the server process killed during a push and during a search, a hung server, foreign collections).

Needs pymilvus and milvus-lite. Without them these tests are skipped, unless FACEKIT_REQUIRE_MILVUS=1 (CI), which
makes their absence a failure. Fault tests run the Milvus Lite server as its own process
(`python -m milvus_lite server`), connected by URI like a Milvus server, so that it can be killed.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from support import MODELS, SHARED

from facekit import Engine, FacekitError, Gallery, Status, load_image  # noqa: E402

try:
    import milvus_lite  # noqa: F401
    import pymilvus  # noqa: F401
except ImportError as e:
    if os.environ.get("FACEKIT_REQUIRE_MILVUS") == "1":
        raise RuntimeError(f"FACEKIT_REQUIRE_MILVUS=1 but Milvus is not installed ({e}): "
                           "pip install pymilvus milvus-lite") from e
    pytest.skip(f"pymilvus/milvus-lite not installed ({e})", allow_module_level=True)

import logging  # noqa: E402

from pymilvus import DataType, MilvusClient  # noqa: E402

from facekit.milvus import MilvusError, MilvusGallery, template_key  # noqa: E402

logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # the fault tests' RPC errors are expected

LFW = SHARED / "data" / "lfw" / "images"
DIM = 128
WEIRD = ['a" or id != "', 'back\\slash', 'new\nline', "emoji \U0001F600 \U00010348", "quote ' and \" both"]


@pytest.fixture(scope="module")
def engine():
    if not MODELS.is_dir():
        pytest.skip(f"no models at {MODELS}")
    with Engine(MODELS, require_liveness=False) as e:
        assert e.embedding_dim == DIM
        yield e


def unit_rows(rng, n):
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def device_gallery(engine, rng, identities, per=(1, 3)):
    """A device gallery of random templates: identity -> 1..3 templates."""
    g = Gallery(engine)
    for who in identities:
        for v in unit_rows(rng, int(rng.integers(per[0], per[1] + 1))):
            g.enroll(who, v)
    return g


def probes_near(rng, g, n):
    """Genuine-like probes: templates of the gallery plus noise."""
    _, rows = g.templates()
    pick = rows[rng.integers(0, len(rows), n)]
    return pick + 0.7 * unit_rows(rng, n)


def assert_same_hits(dev, mil, exact=False):
    assert [h[0] for h in dev] == [h[0] for h in mil]
    for a, b in zip(dev, mil):
        if exact:
            assert np.float32(a[1]).tobytes() == np.float32(b[1]).tobytes(), (a, b)
        else:
            assert abs(a[1] - b[1]) < 1e-5, (a, b)


# ---------------------------------------------------------------------------------------------------------
# Decisions as the device's


def test_search_and_identify_decide_as_the_device(engine, tmp_path):
    rng = np.random.default_rng(1)
    g = device_gallery(engine, rng, [f"p{i}" for i in range(60)] + WEIRD)
    with MilvusGallery(engine, str(tmp_path / "m.db")) as m:
        ids, rows = g.templates()
        for who, v in zip(ids, rows):
            m.enroll(who, v)
        assert m.template_count() == g.template_count()
        assert m.count() == len(g)
        t = engine.gallery_threshold(g.template_count())
        assert m.threshold() == t
        for q in probes_near(rng, g, 40):
            assert_same_hits(g.search(q, 5, -1), m.search(q, 5))
            best = g.search(q, 1, t)
            r = m.identify(q)
            assert r.identity == (best[0][0] if best else None)
            assert r.threshold == t and r.templates == g.template_count()
        # A stranger: nobody on both sides.
        stranger = unit_rows(rng, 1)[0]
        assert g.search(stranger, 1, t) == [] and m.identify(stranger).identity is None


def test_push_pull_round_trip_answers_bit_for_bit(engine, tmp_path):
    rng = np.random.default_rng(2)
    g = device_gallery(engine, rng, [f"p{i}" for i in range(80)] + WEIRD)
    v = g.template(0)[1]
    g.enroll("dup", v)
    g.enroll("dup", v)  # the same vector twice under one identity: both copies kept, as on the device
    g.save(tmp_path / "device.fkg")
    with MilvusGallery(engine, str(tmp_path / "m.db")) as m:
        assert m.push(tmp_path / "device.fkg") == g.template_count()
        assert m.push(tmp_path / "device.fkg") == g.template_count()  # idempotent
        assert m.template_count() == g.template_count()
        assert m.pull(tmp_path / "pulled.fkg") == g.template_count()
    back = Gallery.load(engine, tmp_path / "pulled.fkg")
    assert sorted(back.templates()[0]) == sorted(g.templates()[0])
    for q in probes_near(rng, g, 50):
        assert_same_hits(g.search(q, 5, -1), back.search(q, 5, -1), exact=True)


def test_identities_are_stored_unchanged_and_never_spliced(engine, tmp_path):
    rng = np.random.default_rng(3)
    vs = unit_rows(rng, len(WEIRD) + 1)
    with MilvusGallery(engine, str(tmp_path / "m.db")) as m:
        for who, v in zip(WEIRD + ["b"], vs):
            m.enroll(who, v)
        for who, v in zip(WEIRD, vs):
            assert m.search(v, 1)[0][0] == who
        # `a" or id != "` spliced into a filter would match every row; it must remove exactly one.
        assert m.remove('a" or id != "') == 1
        assert m.count() == len(WEIRD)
        assert sorted(m.templates()[0]) == sorted(WEIRD[1:] + ["b"])


def test_bad_input_is_refused_before_milvus(engine, tmp_path):
    with MilvusGallery(engine, str(tmp_path / "m.db")) as m:
        good = np.zeros(DIM, np.float32)
        good[0] = 1
        m.enroll("x", good)
        for bad in (np.ones(DIM - 1), np.full(DIM, np.nan), np.r_[np.ones(DIM - 1), np.inf], np.zeros(DIM)):
            with pytest.raises(FacekitError) as e:
                m.enroll("y", bad)
            assert e.value.status == Status.FK_ERR_INVALID_ARGUMENT
            with pytest.raises(FacekitError):
                m.search(bad, 1)
        for bad_id in ("", "x" * 256, "nul\0"):
            with pytest.raises(FacekitError):
                m.enroll(bad_id, good)
        with pytest.raises(FacekitError):
            m.search(good, 0)
        with pytest.raises(FacekitError):
            m.identify(good, target_fpir=0.5e-3)  # not a calibrated point
        # Unknown identity on remove: a clear error, nothing changed.
        with pytest.raises(MilvusError) as e:
            m.remove("nobody")
        assert e.value.status == Status.FK_ERR_NOT_FOUND and "nobody" in str(e.value)
        assert m.template_count() == 1 and m.count() == 1


def test_empty_gallery_answers_nobody(engine, tmp_path):
    q = np.random.default_rng(4).standard_normal(DIM)
    with MilvusGallery(engine, str(tmp_path / "m.db")) as m:
        assert m.search(q, 5) == []
        r = m.identify(q)
        assert r.identity is None and r.templates == 0


def test_pushing_a_gallery_of_another_model_is_refused(engine, tmp_path):
    """The collection records its model id; the accurate mode's engine (another model) is refused by name."""
    with MilvusGallery(engine, str(tmp_path / "m.db")) as m:
        m.enroll("x", np.ones(DIM))
        fast_id = m.model_id
    with Engine(MODELS, mode="accurate", require_liveness=False) as acc:
        with pytest.raises(MilvusError) as e:
            MilvusGallery(acc, str(tmp_path / "m.db"))
        acc_id = Gallery(acc).model_id
    assert e.value.status == Status.FK_ERR_INCOMPATIBLE
    assert fast_id in str(e.value) and acc_id in str(e.value) and fast_id != acc_id


@pytest.mark.parametrize("what", ["dimension", "metric", "no model id"])
def test_a_collection_made_by_another_program_is_refused(engine, tmp_path, what):
    uri = str(tmp_path / "other.db")
    c = MilvusClient(uri)
    s = MilvusClient.create_schema(auto_id=False)
    s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=64)
    s.add_field("identity", DataType.VARCHAR, max_length=1024)
    s.add_field("ikey", DataType.VARCHAR, max_length=64)
    s.add_field("embedding", DataType.FLOAT_VECTOR, dim=64 if what == "dimension" else DIM)
    p = c.prepare_index_params()
    p.add_index(field_name="embedding", index_type="FLAT", metric_type="L2" if what == "metric" else "IP")
    c.create_collection("faces", schema=s, index_params=p)
    c.close()
    with pytest.raises(MilvusError) as e:
        MilvusGallery(engine, uri)
    msg = str(e.value)
    assert e.value.status == Status.FK_ERR_INCOMPATIBLE and uri in msg
    assert {"dimension": "dimension 64", "metric": "metric L2", "no model id": "no embedder model id"}[what] in msg


def test_hnsw_option_finds_the_same_best_identity(engine, tmp_path):
    rng = np.random.default_rng(5)
    g = device_gallery(engine, rng, [f"p{i}" for i in range(300)], per=(1, 1))
    g.save(tmp_path / "d.fkg")
    with MilvusGallery(engine, str(tmp_path / "h.db"), index="HNSW") as m:
        m.push(tmp_path / "d.fkg")
        assert m.index == "HNSW"
        probes = probes_near(rng, g, 60)
        agree = sum(g.search(q, 1, -1)[0][0] == m.search(q, 1)[0][0] for q in probes)
    assert agree >= 57, f"HNSW top-1 agreed on {agree}/60"


def test_enroll_and_identify_from_photos(engine, tmp_path):
    a, b, other = (load_image(LFW / "George_W_Bush" / "George_W_Bush_0001.jpg"),
                   load_image(LFW / "George_W_Bush" / "George_W_Bush_0002.jpg"),
                   load_image(LFW / "Colin_Powell" / "Colin_Powell_0001.jpg"))
    with MilvusGallery(engine, str(tmp_path / "m.db")) as m:
        m.enroll("bush", a)
        m.enroll("powell", other)
        dev = Gallery(engine)
        dev.enroll_image(engine, "bush", a)
        dev.enroll_image(engine, "powell", other)
        r = m.identify(b)
        assert r.identity == "bush"
        assert_same_hits(dev.search(engine.embed(b), 2, -1), m.search(b, 2))


# ---------------------------------------------------------------------------------------------------------
# Faults: a Milvus Lite server in its own process


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m milvus_lite server` on a free port; stopped (by its pid) at the end of the test."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.proc = None
        self.start()

    def start(self):
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data_dir),
                                      "--port", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            assert self.proc.poll() is None, "the Milvus Lite server exited at start"
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the Milvus Lite server did not start in 60 s")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL also ends a stopped process (no SIGCONT first: it could still answer)
            self.proc.wait(10)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "server-data")
    yield s
    s.kill()


def all_keys(m: MilvusGallery):
    return [r["pk"] for r in m._rows(["pk"])]


def test_server_killed_during_push_then_the_next_push_completes_exactly_once(engine, tmp_path, server):
    rng = np.random.default_rng(6)
    g = device_gallery(engine, rng, [f"p{i}" for i in range(1500)], per=(1, 2))
    g.save(tmp_path / "device.fkg")
    n = g.template_count()
    m = MilvusGallery(engine, server.uri, timeout=5)
    batches = []

    def kill_after_two(done, total):
        batches.append(done)
        if len(batches) == 2:
            server.kill()

    t0 = time.time()
    with pytest.raises(MilvusError) as e:
        m.push(tmp_path / "device.fkg", batch_size=250, progress=kill_after_two)
    assert time.time() - t0 < 30, "a dead server must fail fast, not hang"
    assert server.uri in str(e.value) and e.value.status == Status.FK_ERR_IO
    assert batches == [250, 500]
    m.close()

    # The server comes back (same data folder); the same push, run again, completes the collection once.
    server.start()
    with MilvusGallery(engine, server.uri, timeout=30) as m:
        assert m.push(tmp_path / "device.fkg", batch_size=250) == n
        keys = all_keys(m)
        assert len(keys) == len(set(keys)) == n == m.template_count()
        ids, rows = g.templates()
        expect = {template_key(i, v) for i, v in zip(ids, rows)}
        assert set(keys) == expect
        m.pull(tmp_path / "pulled.fkg")
    back = Gallery.load(engine, tmp_path / "pulled.fkg")
    for q in probes_near(rng, g, 20):
        assert_same_hits(g.search(q, 3, -1), back.search(q, 3, -1), exact=True)


def test_server_killed_before_a_search_gives_an_error_and_no_decision(engine, server):
    m = MilvusGallery(engine, server.uri, timeout=5)
    m.enroll("x", np.ones(DIM))
    assert m.identify(np.ones(DIM)).identity == "x"
    server.kill()
    t0 = time.time()
    with pytest.raises(MilvusError) as e:
        m.identify(np.ones(DIM))
    assert time.time() - t0 < 15
    assert server.uri in str(e.value)
    with pytest.raises(MilvusError):
        m.search(np.ones(DIM), 1)
    m.close()


def test_server_killed_during_a_search_gives_an_error_not_a_hang(engine, server):
    """The server is frozen (SIGSTOP) so that the search is surely in flight, then killed: the client fails at
    once with an error naming the URI, long before its timeout, and returns no answer."""
    import threading

    m = MilvusGallery(engine, server.uri, timeout=30)
    m.enroll("x", np.ones(DIM))
    outcome = {}

    def search():
        t0 = time.time()
        try:
            outcome["answer"] = m.identify(np.ones(DIM))
        except MilvusError as e:
            outcome["error"] = e
        outcome["took"] = time.time() - t0

    server.proc.send_signal(signal.SIGSTOP)
    t = threading.Thread(target=search)
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), "the search should be waiting for the frozen server"
    server.kill()
    t.join(25)
    assert not t.is_alive(), "the client hung after the server died"
    assert "answer" not in outcome, f"a decision came back from a dead server: {outcome}"
    assert server.uri in str(outcome["error"]) and outcome["took"] < 15
    m.close()


def test_a_hung_server_times_out_at_the_configured_timeout(engine, server):
    m = MilvusGallery(engine, server.uri, timeout=1.5)
    m.enroll("x", np.ones(DIM))
    server.proc.send_signal(signal.SIGSTOP)  # alive but silent: the worst case for a client
    try:
        t0 = time.time()
        with pytest.raises(MilvusError) as e:
            m.search(np.ones(DIM), 1)
        took = time.time() - t0
        assert 1.4 < took < 10, f"search gave up after {took:.1f} s with timeout=1.5"
        assert "timed out" in str(e.value) and server.uri in str(e.value)
    finally:
        server.proc.send_signal(signal.SIGCONT)
        m.close()


def test_a_server_that_is_not_there_is_a_clear_error(engine):
    uri = f"http://127.0.0.1:{free_port()}"
    t0 = time.time()
    with pytest.raises(MilvusError) as e:
        MilvusGallery(engine, uri, timeout=2)
    assert time.time() - t0 < 15 and uri in str(e.value)
