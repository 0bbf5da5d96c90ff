"""LFW and identity-folder readers: real protocol files, the embedded sample, and malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceveil.data.folders import expand_inputs, read_identity_folders
from faceveil.data.lfw import LFW, ProtocolFormatError, read_pairs, read_people
from faceveil.data.sample import sample_root


def test_sample_is_a_small_lfw_with_ten_identity_disjoint_folds():
    lfw = LFW(sample_root())
    pairs = lfw.pairs()
    assert len(pairs) == 120
    assert sorted({p.fold for p in pairs}) == list(range(10))
    assert sum(p.same for p in pairs) == 60
    names = {f: {p.path_a.parent.name for p in pairs if p.fold == f} for f in range(10)}
    for f in range(10):
        for g in range(f + 1, 10):
            assert not names[f] & names[g]
    size = sum(f.stat().st_size for f in sample_root().rglob("*") if f.is_file())
    assert size < 3_000_000


def test_view2_has_6000_pairs_in_10_folds(lfw_root):
    pairs = LFW(lfw_root).pairs("view2")
    assert len(pairs) == 6000
    assert [sum(p.fold == f for p in pairs) for f in range(10)] == [600] * 10
    assert sum(p.same for p in pairs) == 3000
    first = pairs[0]
    assert first.path_a.name == "Abel_Pacheco_0001.jpg" and first.path_b.name == "Abel_Pacheco_0004.jpg"
    assert first.same and first.fold == 0


def test_view1_and_people_files(lfw_root):
    lfw = LFW(lfw_root)
    assert len(lfw.pairs("dev-train")) == 2200
    with pytest.raises(FileNotFoundError, match=r"Betsy_Coffin_0001\.jpg.*pairsDevTest\.txt:585"):
        lfw.pairs("dev-test")
    with pytest.warns(UserWarning, match="skipped the pair of .*pairsDevTest.txt:585"):
        assert len(lfw.pairs("dev-test", on_missing="skip")) == 999
    folds = lfw.people("view2")
    assert len(folds) == 10 and len(folds[0]) == 601
    dev_train, dev_test = lfw.people("dev-train")[0], lfw.people("dev-test")[0]
    assert len(dev_train) == 4038 and len(dev_test) == 1711
    assert not {n for n, _ in dev_train} & {n for n, _ in dev_test}


def test_missing_image_is_named_with_its_line(tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1 1\nA\t1\t2\nA\t1\tB\t1\n")
    with pytest.raises(FileNotFoundError, match=r"A_0001\.jpg.*pairs\.txt:2"):
        read_pairs(pairs, tmp_path)


@pytest.mark.parametrize(
    "body, match",
    [
        ("1 1\nA\t1\nA\t1\tB\t2\n", r"pairs\.txt:2: a matched pair"),
        ("1 1\nA\t1\t2\nA\tx\tB\t2\n", r"pairs\.txt:3: expected integers"),
        ("1 2\nA\t1\t2\nA\t1\tB\t2\n", r"announces 1 fold\(s\) x 2 x 2 pairs = 4 lines, found 2"),
        ("one two three\n", r"pairs\.txt:1"),
        ("", "empty pairs file"),
    ],
)
def test_malformed_pairs_lines_are_named(tmp_path, body, match):
    f = tmp_path / "pairs.txt"
    f.write_text(body)
    with pytest.raises(ProtocolFormatError, match=match):
        read_pairs(f, tmp_path, on_missing="ignore")


def test_people_file_formats(tmp_path):
    v2 = tmp_path / "people.txt"
    v2.write_text("2\n1\nA\t3\n2\nB\t1\nC\t2\n")
    assert read_people(v2) == [[("A", 3)], [("B", 1), ("C", 2)]]
    v1 = tmp_path / "peopleDev.txt"
    v1.write_text("2\nA\t3\nB\t1\n")
    assert read_people(v1) == [[("A", 3), ("B", 1)]]
    bad = tmp_path / "bad.txt"
    bad.write_text("2\nA\t3\nB\n")
    with pytest.raises(ProtocolFormatError, match=r"bad\.txt:3"):
        read_people(bad)


def test_missing_root_and_protocol_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="LFW root not found"):
        LFW(tmp_path / "nowhere")
    (tmp_path / "lfw" / "A").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="'pairs.txt' not found"):
        LFW(tmp_path).pairs()
    with pytest.raises(ValueError, match="view must be one of"):
        LFW(tmp_path).pairs("view3")


def test_identity_folders(tmp_path):
    for person, files in {"alice": ["a.jpg", "b.PNG", "notes.txt"], "bob": ["c.pgm"], "carol": []}.items():
        (tmp_path / person).mkdir()
        for name in files:
            (tmp_path / person / name).write_bytes(b"x")
    items = read_identity_folders(tmp_path)
    assert [(p.name, who) for p, who in items] == [("a.jpg", "alice"), ("b.PNG", "alice"), ("c.pgm", "bob")]
    assert [who for _, who in read_identity_folders(tmp_path, min_images=2)] == ["alice", "alice"]
    with pytest.raises(FileNotFoundError, match=">= 3 images per identity"):
        read_identity_folders(tmp_path, min_images=3)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_identity_folders(tmp_path / "x")


def test_expand_inputs(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "1.jpg").write_bytes(b"x")
    (tmp_path / "2.png").write_bytes(b"x")
    got = expand_inputs([tmp_path / "d", tmp_path / "2.png", tmp_path / "d" / "1.jpg"])
    assert [p.name for p in got] == ["1.jpg", "2.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files in folder"):
        expand_inputs([tmp_path / "empty"])
    with pytest.raises(FileNotFoundError, match="input not found"):
        expand_inputs([Path(tmp_path / "missing.jpg")])
