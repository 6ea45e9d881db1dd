"""Two replicas: two ``citeqa serve`` processes sharing one Chroma server, configured only by environment variables
(as docker-compose configures them). They give the same answers, and what is written through one is answered,
or no longer answered, by the other: the BM25 index each keeps in memory follows the store's revision.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEED_QUESTION, SEEDS
from tests.servers import ChromaServer, CiteqaProcess

KEY = "replica-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
OWLS = b"Snowy owls nest on the open tundra. A snowy owl can eat more than 1600 lemmings in a year."
OWL_QUESTION = "How many lemmings can a snowy owl eat in a year?"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory,
             chroma_server: ChromaServer) -> Iterator[tuple[CiteqaProcess, CiteqaProcess]]:
    if not chroma_server.alive_or_false():
        chroma_server.start()
    folder = tmp_path_factory.mktemp("replicas")
    env = {"CITEQA_CHROMA_URL": chroma_server.url, "CITEQA_COLLECTION": f"r{uuid.uuid4().hex[:12]}",
           "CITEQA_API_KEYS": KEY, "HF_HUB_OFFLINE": "1"}
    pair = [CiteqaProcess(env, folder / f"replica-{name}.log", folder) for name in "ab"]
    try:
        for replica in pair:
            replica.start()  # both load the model at the same time
        for replica in pair:
            replica.wait_ready()
        yield pair[0], pair[1]
    finally:
        for replica in pair:
            replica.stop()


def ask(replica: CiteqaProcess, question: str) -> dict:
    response = httpx.post(f"{replica.url}/ask", json={"question": question}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def upload(replica: CiteqaProcess, name: str, content: bytes) -> dict:
    response = httpx.post(f"{replica.url}/documents", files=[("files", (name, content))], headers=AUTH,
                          timeout=300)
    assert response.status_code == 200, response.text
    return response.json()["documents"][0]


def comparable(body: dict) -> dict:
    return {key: value for key, value in body.items() if key != "timings_ms"}


def test_replicas_share_one_store(replicas: tuple[CiteqaProcess, CiteqaProcess]) -> None:
    a, b = replicas
    assert ask(b, SEED_QUESTION)["refused"] is True  # b builds its BM25 index on the empty collection
    seed = next(SEEDS.glob("*.txt"))
    upload(a, seed.name, seed.read_bytes())
    assert httpx.get(f"{a.url}/documents").json() == httpx.get(f"{b.url}/documents").json()
    from_a, from_b = ask(a, SEED_QUESTION), ask(b, SEED_QUESTION)
    assert from_a["refused"] is False and any("unclassified" in c["quote"] for c in from_a["citations"])
    assert comparable(from_a) == comparable(from_b)

    owls = upload(b, "owls.txt", OWLS)
    answer = ask(a, OWL_QUESTION)
    assert [c["doc_id"] for c in answer["citations"]] == [owls["id"]] and "1600" in answer["answer"]
    assert comparable(answer) == comparable(ask(b, OWL_QUESTION))

    deleted = httpx.delete(f"{a.url}/documents/{owls['id']}", headers=AUTH)
    assert deleted.status_code == 200
    assert owls["id"] not in {c["doc_id"] for c in ask(b, OWL_QUESTION)["citations"]}
    assert httpx.get(f"{b.url}/documents/{owls['id']}").status_code == 404


def test_replica_logs_carry_request_ids(replicas: tuple[CiteqaProcess, CiteqaProcess]) -> None:
    a, _ = replicas
    response = httpx.get(f"{a.url}/documents", headers={"X-Request-ID": "replica-log-check-1"})
    assert response.headers["x-request-id"] == "replica-log-check-1"
    httpx.get(f"{a.url}/healthz")  # a later request, so the access line above has surely been written
    lines = [line for line in a.log.read_text().splitlines() if "replica-log-check-1" in line]
    assert any("GET /documents 200" in line for line in lines), lines
    assert KEY not in a.log.read_text()


def test_rejected_writes_are_counted_by_route(replicas: tuple[CiteqaProcess, CiteqaProcess]) -> None:
    a, _ = replicas
    assert httpx.delete(f"{a.url}/documents/anything").status_code == 401
    metrics = httpx.get(f"{a.url}/metrics").text
    assert 'citeqa_http_requests_total{method="DELETE",route="/documents/{doc_id}",status="401"} 1.0' in metrics


def test_the_log_files_exist(replicas: tuple[CiteqaProcess, CiteqaProcess]) -> None:
    assert all(Path(replica.log).stat().st_size > 0 for replica in replicas)
