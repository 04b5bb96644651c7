"""A central 1:N gallery on Milvus that decides exactly as the device does (``pip install facekit[milvus]``:
pymilvus and milvus-lite).

``MilvusGallery(engine, uri="facekit.db", collection="faces")`` keeps templates in a Milvus collection: a
local file (Milvus Lite, embedded, for tests and small sites) or a server (``uri="http://host:19530"``, a
standalone or distributed Milvus; the same code). The decision rule is the device's:

* the same templates: every template is normalised by the library itself (a scratch device gallery enrols it
  and gives it back), so the vector in Milvus is bit for bit the one a device gallery stores; ``push`` copies a
  device gallery's own rows and ``pull`` writes them back unchanged (``fk_gallery_add_template``);
* the same scores: exact inner product on those unit vectors (index ``FLAT``, the default); an identity scores
  its best template, one hit per identity (Milvus ``group_by`` on the identity);
* the same threshold: ``engine.gallery_threshold(templates, op)``, the gallery-size rule of the device, from the
  collection's template count.

The collection records the embedder's model id and dimension (collection properties) and is refused by an
engine of another model, with both ids in the message. Primary keys are derived from the identity and the
template's bytes, so pushing the same gallery twice, or again after an interrupted push, leaves exactly one
copy of each template (upsert). Identity strings are never spliced into a filter expression: filters use the
SHA-256 of the identity (a hex string), stored beside it.

Every failure is a :class:`facekit.FacekitError`; those of the server are :class:`MilvusError` and name the
URI. Each call waits at most ``timeout`` seconds.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import Engine, FacekitError, Gallery, OperatingPoint, Status, _invalid

try:
    import grpc
    from pymilvus import DataType, MilvusClient
    from pymilvus.exceptions import MilvusException
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("facekit.milvus needs pymilvus and milvus-lite: pip install 'facekit[milvus]' "
                      "(or pip install pymilvus milvus-lite)") from e

__all__ = ["MilvusGallery", "MilvusError", "Identification"]

# Collection properties: what the templates were made by.
_P_MODEL = "facekit.model_id"
_P_DIM = "facekit.dim"
_P_FORMAT = "facekit.format"
_FORMAT = "1"
_PK, _IDENTITY, _IKEY, _VECTOR = "pk", "identity", "ikey", "embedding"
# Identity keys are at most 255 bytes of UTF-8 (the device's limit); VARCHAR lengths are generous for both
# the byte and the character reading of max_length.
_ID_FIELD_LEN = 1024
_MAX_TOPK = 16384  # Milvus's largest search limit
_INDEXES = ("FLAT", "HNSW")


class MilvusError(FacekitError):
    """A Milvus operation failed (server unreachable or killed, timeout, a collection facekit cannot use).
    ``uri`` names the server; ``status`` is FK_ERR_IO for the server's failures, FK_ERR_INCOMPATIBLE for a
    collection of another model, dimension or metric, FK_ERR_NOT_FOUND for an unknown identity."""

    def __init__(self, status: int, message: str, uri: str):
        self.uri = uri
        super().__init__(status, f"Milvus at {uri}: {message}")


@dataclass(frozen=True)
class Identification:
    """The answer of :meth:`MilvusGallery.identify`: ``identity`` is None for "nobody enrolled matches";
    ``similarity`` is the best candidate's score (NaN for an empty gallery), ``threshold`` the one decided at
    and ``templates`` the gallery size it was derived from."""

    identity: Optional[str]
    similarity: float
    threshold: float
    templates: int


def template_key(identity: str, template: np.ndarray, occurrence: int = 0) -> str:
    """The primary key of a template: SHA-256 of the identity, the float32 bytes and which identical copy of
    them under this identity it is (a device gallery may hold one vector twice). Deterministic, so a
    repeated push or enrol upserts the same rows instead of adding copies."""
    h = hashlib.sha256()
    h.update(identity.encode("utf-8"))
    h.update(b"\0")
    h.update(np.ascontiguousarray(template, dtype="<f4").tobytes())
    h.update(occurrence.to_bytes(4, "little"))
    return h.hexdigest()[:48]


def _ikey(identity: str) -> str:
    """What filters compare instead of the identity itself: hex, so no quoting can go wrong."""
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def _is_vector(a) -> bool:
    """An embedding (1-D numbers) rather than an image (a path, bytes, an HxWxC array, a facekit.Image)."""
    if isinstance(a, np.ndarray):
        return a.ndim == 1
    return isinstance(a, (list, tuple)) and (len(a) == 0 or np.isscalar(a[0]))


def _op_of(target_fpir) -> Union[int, str, OperatingPoint, None]:
    """``target_fpir`` as an operating point: None (the engine's), an OperatingPoint/int/name, or a FAR value
    such as 1e-3 (a calibrated point: 1e-2 .. 1e-6)."""
    if target_fpir is None or isinstance(target_fpir, (OperatingPoint, str)):
        return target_fpir
    if isinstance(target_fpir, int) and not isinstance(target_fpir, bool) and target_fpir >= 1:
        return target_fpir
    x = float(target_fpir)
    if not (0.0 < x < 1.0):
        raise _invalid(f"target FPIR {target_fpir!r} is not in (0, 1)")
    k = round(-math.log10(x))
    if k not in range(2, 7) or abs(x - 10.0 ** -k) > 1e-9 * x:
        raise _invalid(f"target FPIR {target_fpir!r} is not a calibrated point (1e-2 .. 1e-6)")
    return OperatingPoint(k)


class MilvusGallery:
    """A 1:N gallery in a Milvus collection, deciding as a device :class:`facekit.Gallery` does (module docs).

    ``index``: ``"FLAT"`` (exact, the default: decisions identical to the device) or ``"HNSW"`` (approximate,
    for very large galleries; ``hnsw_m``, ``hnsw_ef_construction`` build it, ``hnsw_ef`` searches it; its
    recall is measured in BENCHMARKS.md). The index of an existing collection is whatever it was created
    with. ``timeout``: seconds any one call may take (then :class:`MilvusError`). ``token``: for a server with
    authentication.
    """

    def __init__(self, engine: Engine, uri: str = "facekit.db", collection: str = "faces", *, index: str = "FLAT",
                 hnsw_m: int = 16, hnsw_ef_construction: int = 200, hnsw_ef: int = 64, timeout: float = 10.0,
                 token: str = ""):
        if index not in _INDEXES:
            raise _invalid(f"index {index!r} is not one of {_INDEXES}")
        if not (timeout > 0):
            raise _invalid(f"timeout must be > 0 seconds, got {timeout!r}")
        self.engine = engine
        self.uri = os.fspath(uri)
        self.collection = collection
        self.timeout = float(timeout)
        self.hnsw_ef = int(hnsw_ef)
        self.dim = engine.embedding_dim
        # The model id is the gallery's: an empty scratch gallery of this engine says which it is.
        with Gallery(engine) as g:
            self.model_id = g.model_id
        self._client = self._call("connect", lambda: MilvusClient(self.uri, token=token, timeout=self.timeout))
        if self._call("has_collection", lambda: self._client.has_collection(collection, timeout=self.timeout)):
            self._check_collection()
        else:
            self._create(index, hnsw_m, hnsw_ef_construction)
        self._call("load_collection", lambda: self._client.load_collection(collection, timeout=self.timeout))
        self.index = self._index_type()

    # -- plumbing
    def _error(self, status: int, message: str) -> MilvusError:
        return MilvusError(status, message, self.uri)

    def _call(self, what: str, fn):
        """Runs one Milvus call; anything it raises becomes a MilvusError naming the URI."""
        try:
            return fn()
        except FacekitError:
            raise
        except grpc.RpcError as e:
            code = e.code() if hasattr(e, "code") else None
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise self._error(Status.FK_ERR_IO, f"{what} timed out after {self.timeout:g} s") from None
            raise self._error(Status.FK_ERR_IO, f"{what} failed: {code}: {getattr(e, 'details', lambda: '')()}") from None
        except MilvusException as e:
            raise self._error(Status.FK_ERR_IO, f"{what} failed: {e.message} (code {e.code})") from None
        except Exception as e:  # pymilvus raises plain exceptions too (e.g. a refused connection at start)
            raise self._error(Status.FK_ERR_IO, f"{what} failed: {type(e).__name__}: {e}") from None

    def _create(self, index: str, m: int, ef_construction: int) -> None:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(_PK, DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field(_IDENTITY, DataType.VARCHAR, max_length=_ID_FIELD_LEN)
        schema.add_field(_IKEY, DataType.VARCHAR, max_length=64)
        schema.add_field(_VECTOR, DataType.FLOAT_VECTOR, dim=self.dim)
        params = self._client.prepare_index_params()
        if index == "HNSW":
            params.add_index(field_name=_VECTOR, index_type="HNSW", metric_type="IP",
                             params={"M": int(m), "efConstruction": int(ef_construction)})
        else:
            params.add_index(field_name=_VECTOR, index_type="FLAT", metric_type="IP")
        props = {_P_MODEL: self.model_id, _P_DIM: str(self.dim), _P_FORMAT: _FORMAT}
        self._call("create_collection", lambda: self._client.create_collection(
            self.collection, schema=schema, index_params=params, consistency_level="Strong", properties=props,
            timeout=self.timeout))

    def _check_collection(self) -> None:
        """Refuses a collection this engine cannot decide with: another model, dimension or metric, or one
        not made by facekit (checked in that order, so the message names the first thing that differs)."""
        d = self._call("describe_collection", lambda: self._client.describe_collection(self.collection, timeout=self.timeout))
        name = f"collection {self.collection!r}"
        props = d.get("properties", {}) or {}
        model = props.get(_P_MODEL)
        if model is not None and model != self.model_id:
            raise self._error(Status.FK_ERR_INCOMPATIBLE, f"{name} holds templates of model {model}; the engine's "
                              f"model is {self.model_id} (fast and accurate modes never mix)")
        fields = {f["name"]: f for f in d.get("fields", [])}
        vectors = [f for f in fields.values() if f.get("type") == DataType.FLOAT_VECTOR]
        vec = fields.get(_VECTOR) or (vectors[0] if len(vectors) == 1 else None)
        if vec is None:
            raise self._error(Status.FK_ERR_INCOMPATIBLE, f"{name} has no float vector field {_VECTOR!r}: not made "
                              f"by facekit (fields {sorted(fields)})")
        dim = int(vec.get("params", {}).get("dim", -1))
        if dim != self.dim:
            raise self._error(Status.FK_ERR_INCOMPATIBLE, f"{name} holds vectors of dimension {dim}; the engine's "
                              f"embedder makes {self.dim}")
        metric = self._index_info(vec["name"]).get("metric_type")
        if metric != "IP":
            raise self._error(Status.FK_ERR_INCOMPATIBLE, f"{name} is indexed with metric {metric}; facekit scores "
                              f"with the inner product (IP) of unit vectors")
        if vec["name"] != _VECTOR or any(f not in fields for f in (_PK, _IDENTITY, _IKEY)):
            raise self._error(Status.FK_ERR_INCOMPATIBLE, f"{name} was not made by facekit: it needs fields "
                              f"{_PK}, {_IDENTITY}, {_IKEY}, {_VECTOR}; it has {sorted(fields)}")
        if model is None:
            raise self._error(Status.FK_ERR_INCOMPATIBLE, f"{name} records no embedder model id (property "
                              f"{_P_MODEL}): not made by facekit, its templates cannot be trusted")

    def _index_info(self, field: str = _VECTOR) -> Dict:
        names = self._call("list_indexes", lambda: self._client.list_indexes(self.collection, timeout=self.timeout))
        for n in names:
            info = self._call("describe_index", lambda: self._client.describe_index(self.collection, n, timeout=self.timeout))
            if info.get("field_name", n) == field:
                return info
        return {}

    def _index_type(self) -> str:
        return str(self._index_info().get("index_type", "FLAT"))

    def close(self) -> None:
        """Closes the connection (idempotent)."""
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def __enter__(self) -> "MilvusGallery":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<facekit.milvus.MilvusGallery {self.uri} {self.collection!r} {self.index} model={self.model_id[:12]}>"

    # -- the device's normalisation and validation
    def _unit(self, embedding, identity: str = "query") -> np.ndarray:
        """``embedding`` normalised exactly as a device gallery normalises it, after the device's checks
        (length, finite, non-zero; identity key rules): a scratch gallery enrols it and gives it back."""
        with Gallery(self.engine) as g:
            g.enroll(identity, embedding)
            return g.template(0)[1]

    def _embedding(self, embedding_or_image) -> np.ndarray:
        """An embedding as given, or the embedding of an image's largest face."""
        a = embedding_or_image
        return np.ascontiguousarray(a, dtype=np.float32) if _is_vector(a) else self.engine.embed(a)

    # -- the gallery
    def enroll(self, identity: str, embedding_or_image) -> None:
        """Adds a template under ``identity``: an embedding (normalised as the device does) or an image, whose
        largest face is checked under the engine's enrolment policy (quality, liveness) and embedded, as
        ``Gallery.enroll_image`` does. Bad input is refused before Milvus is asked; enrolling the same template
        under the same identity again changes nothing."""
        a = embedding_or_image
        with Gallery(self.engine) as g:
            if _is_vector(a):
                g.enroll(identity, a)
            else:
                g.enroll_image(self.engine, identity, a)
            v = g.template(0)[1]
        row = {_PK: template_key(identity, v), _IDENTITY: identity, _IKEY: _ikey(identity), _VECTOR: v.tolist()}
        self._call("upsert", lambda: self._client.upsert(self.collection, [row], timeout=self.timeout))

    def remove(self, identity: str) -> int:
        """Removes ``identity`` and all its templates; returns how many. An unknown identity is a
        MilvusError with FK_ERR_NOT_FOUND and changes nothing."""
        if not isinstance(identity, str):
            raise _invalid("identity must be a str")
        pks = [r[_PK] for r in self._call("query", lambda: self._client.query(
            self.collection, filter=f'{_IKEY} == "{_ikey(identity)}"', output_fields=[_PK], timeout=self.timeout))]
        if not pks:
            raise self._error(Status.FK_ERR_NOT_FOUND, f"identity {identity!r} is not in collection {self.collection!r}")
        self._call("delete", lambda: self._client.delete(self.collection, ids=pks, timeout=self.timeout))
        return len(pks)

    def template_count(self) -> int:
        """Number of templates (what the gallery-size threshold rule counts)."""
        r = self._call("count", lambda: self._client.query(self.collection, filter="", output_fields=["count(*)"],
                                                           timeout=self.timeout))
        return int(r[0]["count(*)"])

    def _rows(self, fields: List[str], batch: int = 2000) -> Iterator[Dict]:
        it = self._call("query_iterator", lambda: self._client.query_iterator(
            self.collection, batch_size=batch, filter="", output_fields=fields, timeout=self.timeout))
        try:
            while True:
                page = self._call("query_iterator", it.next)
                if not page:
                    return
                yield from page
        finally:
            try:
                it.close()
            except Exception:
                pass

    def count(self) -> int:
        """Number of enrolled identities (reads every row's identity hash: linear in the gallery)."""
        return len({r[_IKEY] for r in self._rows([_IKEY])})

    def search(self, embedding, k: int = 5, threshold: Optional[float] = None) -> List[Tuple[str, float]]:
        """Up to ``k`` ``(identity, similarity)``, best first (ties by identity, as on the device), one per
        identity scored by its best template, with similarity >= ``threshold`` when given. An empty gallery
        answers ``[]``. Milvus groups by identity among its best templates (Milvus Lite: the best 10·k), so
        when identities have many templates each it may return fewer than ``k``; the best one (``identify``)
        is always found on FLAT."""
        if int(k) < 1:
            raise _invalid("k must be at least 1")
        if threshold is not None and not math.isfinite(threshold):
            raise _invalid(f"threshold {threshold!r} is not finite")
        q = self._unit(self._embedding(embedding))
        params = {"metric_type": "IP"}
        if self.index == "HNSW":
            params["params"] = {"ef": max(self.hnsw_ef, int(k))}
        res = self._call("search", lambda: self._client.search(
            self.collection, data=[q.tolist()], anns_field=_VECTOR, limit=min(int(k), _MAX_TOPK),
            output_fields=[_IDENTITY], search_params=params, group_by_field=_IDENTITY, timeout=self.timeout))
        hits = [(h["entity"][_IDENTITY], float(np.float32(h["distance"]))) for h in (res[0] if res else [])]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return [h for h in hits if threshold is None or h[1] >= threshold][: int(k)]

    def threshold(self, target_fpir=None, templates: Optional[int] = None) -> float:
        """The device's gallery-size threshold for this gallery: ``engine.gallery_threshold(templates, op)``,
        ``target_fpir`` an operating point (its FAR is the share of strangers let in) or a FAR value like 1e-3."""
        n = self.template_count() if templates is None else int(templates)
        return self.engine.gallery_threshold(n, _op_of(target_fpir))

    def identify(self, embedding_or_image, target_fpir=None) -> Identification:
        """Who is this? The best identity if it scores at least the device's threshold for this gallery's size
        (:meth:`threshold`), else ``identity=None``. One search; if any call fails, an error and no answer. An
        image is embedded at its largest face as given (check captures first with ``engine.quality`` /
        ``engine.liveness``, or decide on a camera with the device's ``Tracker``)."""
        e = self._embedding(embedding_or_image)
        n = self.template_count()
        if n == 0:
            self._unit(e)  # the same refusals as a non-empty gallery
            return Identification(None, float("nan"), float("nan"), 0)
        t = self.threshold(target_fpir, n)
        hits = self.search(e, 1)
        if not hits:
            return Identification(None, float("nan"), t, n)
        who, s = hits[0]
        return Identification(who if s >= t else None, s, t, n)

    # -- moving galleries
    def push(self, device_gallery_path: Union[str, os.PathLike], *, batch_size: int = 1000,
             progress: Optional[Callable[[int, int], None]] = None) -> int:
        """Copies every template of a device gallery file into the collection (its rows as stored, keys from
        their content): idempotent, and an interrupted push run again completes it without duplicates or losses.
        ``progress(done, total)`` is called after each batch. Returns the number of templates pushed."""
        if int(batch_size) < 1:
            raise _invalid("batch_size must be at least 1")
        with Gallery.load(self.engine, device_gallery_path) as g:
            ids, rows = g.templates()
        seen: Dict[str, int] = {}
        keys = []
        for identity, v in zip(ids, rows):
            h = template_key(identity, v)
            k = seen.get(h, 0)
            seen[h] = k + 1
            keys.append(template_key(identity, v, k) if k else h)
        n = len(keys)
        for start in range(0, n, int(batch_size)):
            end = min(n, start + int(batch_size))
            # Rows as Python lists only per batch: a million at once would take gigabytes.
            batch = [{_PK: keys[i], _IDENTITY: ids[i], _IKEY: _ikey(ids[i]), _VECTOR: rows[i].tolist()}
                     for i in range(start, end)]
            self._call("upsert", lambda: self._client.upsert(self.collection, batch, timeout=self.timeout))
            if progress is not None:
                progress(end, n)
        # Seal what was written: unsealed rows are searched by a slow path (Milvus Lite: 10x slower).
        self._call("flush", lambda: self._client.flush(self.collection, timeout=self.timeout))
        return n

    def templates(self) -> Tuple[List[str], np.ndarray]:
        """Every template and its identity, sorted by identity then key (a deterministic order)."""
        rows = sorted(((r[_IDENTITY], r[_PK], r[_VECTOR]) for r in self._rows([_PK, _IDENTITY, _VECTOR])),
                      key=lambda r: (r[0], r[1]))
        vecs = np.array([r[2] for r in rows], dtype=np.float32).reshape(len(rows), self.dim)
        return [r[0] for r in rows], vecs

    def pull(self, path: Union[str, os.PathLike]) -> int:
        """Writes the collection as a device gallery file (atomically: the old file or the new one) that
        ``fk_gallery_load`` accepts and that searches exactly as this collection does on FLAT. A template that
        is not a valid unit vector (written by another program) fails the pull; the file is then untouched.
        Returns the number of templates written."""
        ids, vecs = self.templates()
        with Gallery(self.engine) as g:
            for identity, v in zip(ids, vecs):
                g.add_template(identity, v)
            g.save(path)
        return len(ids)
