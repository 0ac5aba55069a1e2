"""Media confinement and URL rules (``prelabel.inputs.media``), for images and video alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prelabel.inputs.media import MediaError, MediaPolicy, check_media, check_resolved_host
from prelabel.inputs.reading import BadItem, read_items

DEFAULT = MediaPolicy()
TRUSTING = MediaPolicy(allow_remote=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://localhost:8080/x.png",
        "https://10.1.2.3/x.png",
        "http://192.168.0.7/x.png",
        "http://172.16.5.5/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.png",
        "http://[fe80::1]/x.png",
        "http://0.0.0.0/x.png",
        "http://2130706433/x.png",  # 127.0.0.1 as one number
        "http://0x7f.1/x.png",
        "http://printer.local/x.png",
        "http://metadata.google.internal/x",
        "http://intranet/x.png",  # a single-label name: resolved by the local network
    ],
)
def test_local_network_urls_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(MediaError, match="--allow-remote-media"):
        check_media(url, None, DEFAULT, "images")
    assert check_media(url, None, TRUSTING, "images") == url


@pytest.mark.parametrize("url", ["https://cdn.example.com/a.jpg", "http://93.184.216.34/a.jpg"])
def test_public_urls_pass_as_they_are(url: str) -> None:
    assert check_media(url, None, DEFAULT, "video") == url


def test_file_urls_other_schemes_and_data_urls() -> None:
    with pytest.raises(MediaError, match="is a file:// URL; name the file by its path"):
        check_media("file:///etc/passwd", None, DEFAULT, "images")
    assert check_media("file:///srv/a.mp4", None, TRUSTING, "video") == "file:///srv/a.mp4"
    with pytest.raises(MediaError, match="unsupported scheme 'ftp:'"):
        check_media("ftp://example.com/a.png", None, TRUSTING, "images")
    assert check_media("data:image/png;base64,AAAA", None, DEFAULT, "images").startswith("data:")
    with pytest.raises(MediaError, match="unsupported scheme 'data:'"):
        check_media("data:video/mp4;base64,AAAA", None, DEFAULT, "video")


def test_paths_confined_to_the_base_folder_or_the_media_root(tmp_path: Path) -> None:
    items, media = tmp_path / "items", tmp_path / "media"
    items.mkdir()
    media.mkdir()
    (items / "in.png").write_bytes(b"x")
    (media / "m.png").write_bytes(b"x")
    (items / "out.png").symlink_to(media / "m.png")
    (items / "sub").symlink_to(items)  # a link inside the root, to the root: fine
    assert check_media("in.png", items, DEFAULT, "images") == str(items / "in.png")
    assert check_media("sub/in.png", items, DEFAULT, "images") == str(items / "sub/in.png")
    with pytest.raises(MediaError, match="escapes the media root"):
        check_media("../media/m.png", items, DEFAULT, "images")
    with pytest.raises(MediaError, match="is outside the media root"):
        check_media(str(media / "m.png"), items, DEFAULT, "images")
    with pytest.raises(MediaError, match="is a link to a file outside the media root"):
        check_media("out.png", items, DEFAULT, "images")
    wider = MediaPolicy(root=tmp_path)
    assert check_media("../media/m.png", items, wider, "images") == str(items / "../media/m.png")
    assert check_media("out.png", items, wider, "images") == str(items / "out.png")
    unchecked = MediaPolicy(confine=False)
    assert check_media("/etc/passwd", items, unchecked, "images") == "/etc/passwd"


def test_items_given_in_python_are_confined_to_a_named_root_only(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"x")
    rows = [
        {"id": "in", "text": "x", "images": [str(tmp_path / "a.png")]},
        {"id": "out", "text": "x", "images": ["/etc/hostname"]},
        {"id": "vid", "text": "x", "video": "http://127.0.0.1:1/v.mp4"},
    ]
    got = list(read_items(rows))  # no items file, no root: paths as given; URL rules still apply
    assert [isinstance(e, BadItem) for e in got] == [False, False, True]
    assert got[2].reason.startswith("row 3: video: 'http://127.0.0.1:1")  # type: ignore[union-attr]
    confined = list(read_items(rows, media=MediaPolicy(root=tmp_path)))
    assert [isinstance(e, BadItem) for e in confined] == [False, True, True]
    assert "images: '/etc/hostname' is outside the media root" in confined[1].reason  # type: ignore[union-attr]
    assert confined[1].item_id == "out"


def test_items_file_rows_name_the_line_and_field(tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "a", "video": "/etc/hostname"}) + "\n", encoding="utf-8")
    (bad,) = read_items(items)
    assert isinstance(bad, BadItem)
    assert bad.reason.startswith("line 1: video: '/etc/hostname' is outside the media root")


def test_a_fetched_host_resolving_to_a_local_address_is_refused() -> None:
    with pytest.raises(MediaError, match=r"resolves to a local-network address \((127.0.0.1|::1)\)"):
        check_resolved_host("http://localhost/v.mp4", DEFAULT)
    check_resolved_host("http://localhost/v.mp4", TRUSTING)  # allowed: nothing raised


def test_a_csv_items_file_with_video_columns(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"x")
    items = tmp_path / "items.csv"
    items.write_text(
        "id,video,transcript,ocr_text,market\na,clip.mp4,buy now,50% OFF,TH\nb,../clip.mp4,,,ID\n",
        encoding="utf-8",
    )
    first, second = read_items(items)
    assert not isinstance(first, BadItem)
    assert (first.video, first.transcript, first.ocr_text, first.text) == (
        str(tmp_path / "clip.mp4"),
        "buy now",
        "50% OFF",
        None,
    )
    assert first.meta == {"market": "TH"}
    assert (
        isinstance(second, BadItem) and "line 3: video: '../clip.mp4' escapes the media root" in second.reason
    )
