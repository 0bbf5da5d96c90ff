"""Person-disjoint protocols: LFW View 2 10-fold and 2-fold cross-fitting, View 1, identity-folder splits."""

from __future__ import annotations

import json
import warnings
from collections import Counter

import pytest

from faceveil.data.identities import SeenIdentitiesError, check_unseen, identity_record
from faceveil.data.lfw import LFW, Pair
from faceveil.data.protocols import (PROTOCOLS, DataConfig, Split, folder_split, lfw_protocol, pair_people,
                                     training_items)
from faceveil.data.sample import sample_root
from faceveil.protect.optical import PACKAGED_CHECKPOINT
from faceveil.protect.optical.train import load_train_config


def assert_disjoint(split: Split) -> None:
    assert not set(split.train_people) & pair_people(split.test_pairs)
    trained = split.record()["train_identities"]
    assert check_unseen(trained, pair_people(split.test_pairs))["seen_identities"] == 0


def lfw_splits(root, name):
    with warnings.catch_warnings():  # this copy of LFW lacks one image of a View 1 DevTest pair
        warnings.simplefilter("ignore")
        return lfw_protocol(root, name, on_missing="skip")


@pytest.mark.parametrize("name", PROTOCOLS)
def test_every_protocol_is_person_disjoint_on_full_lfw(lfw_root, name):
    splits = lfw_splits(lfw_root, name)
    assert len(splits) == {"view2-10fold": 10, "view2-2fold": 2, "view1": 1}[name]
    for split in splits:
        assert_disjoint(split)
        assert split.protocol == name and split.train_people == tuple(sorted(split.train_people))
        image_dir = LFW(lfw_root).image_dir
        assert all((image_dir / person).is_dir() for person in split.train_people)


def test_view2_2fold_scores_all_6000_pairs_once_in_their_folds(lfw_root):
    first, second = lfw_splits(lfw_root, "view2-2fold")
    everything = LFW(lfw_root).pairs("view2")
    assert len(first.test_pairs) + len(second.test_pairs) == 6000
    assert Counter(first.test_pairs + second.test_pairs) == Counter(everything)
    assert {p.fold for p in first.test_pairs} == {5, 6, 7, 8, 9} and {p.fold for p in second.test_pairs} == {0, 1, 2, 3, 4}
    people = LFW(lfw_root).people("view2")
    assert set(first.train_people) <= {name for fold in people[:5] for name, _ in fold}


def test_view2_10fold_trains_on_the_nine_other_folds(lfw_root):
    splits = lfw_splits(lfw_root, "view2-10fold")
    people, image_dir = LFW(lfw_root).people("view2"), LFW(lfw_root).image_dir
    for k, split in enumerate(splits):
        assert split.name == f"view2-10fold/{k + 1}" and {p.fold for p in split.test_pairs} == {k}
        assert len(split.test_pairs) == 600
        others = {name for j, fold in enumerate(people) if j != k for name, _ in fold}
        assert set(split.train_people) == {name for name in others if (image_dir / name).is_dir()}
    assert len({name for fold in people for name, _ in fold}) - 1 == len(set(splits[0].train_people) |
                                                                         set(splits[1].train_people))


def test_view1_dev_train_shares_2985_people_with_view2_pairs(lfw_root):
    """Why the protocols exist: a model trained on DevTrain and scored on View 2 saw most of its people."""
    (view1,) = lfw_splits(lfw_root, "view1")
    view2_people = pair_people(LFW(lfw_root).pairs("view2"))
    assert len(set(view1.train_people) & view2_people) == 2985 and len(view2_people) == 4281
    with pytest.raises(SeenIdentitiesError, match="trained on 2985 of the 4281 people") as err:
        check_unseen(view1.record()["train_identities"], view2_people)
    assert len(err.value.overlap) == 2985
    assert check_unseen(view1.record()["train_identities"], view2_people, allow=True)["seen_identities"] == 2985


def test_protocols_on_the_embedded_sample_derive_fold_people_from_the_pairs():
    ten, two = lfw_protocol(sample_root(), "view2-10fold"), lfw_protocol(sample_root(), "view2-2fold")
    assert len(ten) == 10 and len(two) == 2
    for split in ten + two:
        assert_disjoint(split)
    assert [len(s.train_people) for s in two] == [20, 20] and sum(len(s.test_pairs) for s in two) == 120
    assert set(two[0].train_people) == two[1].test_people
    with pytest.raises(FileNotFoundError, match="peopleDevTrain.txt"):
        lfw_protocol(sample_root(), "view1")
    with pytest.raises(ValueError, match="protocol must be one of"):
        lfw_protocol(sample_root(), "view3")


def test_folds_that_share_a_person_are_refused_without_people_txt(tmp_path):
    (tmp_path / "lfw").symlink_to(sample_root() / "lfw", target_is_directory=True)
    lines = (sample_root() / "pairs.txt").read_text().splitlines()
    name = lines[1].split()[0]  # a matched pair of fold 1; put its person into fold 2's first matched pair
    lines[1 + 12] = f"{name}\t1\t2"
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"folds 1 and 2 share 1 people \({name}\)"):
        lfw_protocol(tmp_path, "view2-10fold")


def test_a_split_whose_pairs_use_a_training_person_is_refused():
    pairs = lfw_protocol(sample_root(), "view2-10fold")[0].test_pairs
    person = pairs[0].path_a.parent.name
    with pytest.raises(ValueError, match=rf"not person-disjoint: 1 training people .*\({person}\)"):
        Split("bad/1", ("Someone_Else", person), pairs)
    with pytest.raises(ValueError, match="no test pairs"):
        Split("empty/1", ("Someone_Else",), [])


def test_check_unseen_names_the_overlap_count():
    pairs = lfw_protocol(sample_root(), "view2-10fold")[0].test_pairs
    scored = pair_people(pairs)
    trained = identity_record(sorted(scored)[:3] + ["Someone_Else"])
    with pytest.raises(SeenIdentitiesError, match=f"trained on 3 of the {len(scored)} people"):
        check_unseen(trained, scored)
    assert pair_people([Pair(sample_root() / "lfw/A/A_0001.jpg", sample_root() / "lfw/B/B_0002.jpg", False, 0)]) \
        == {"A", "B"}


def test_folder_split_is_deterministic_per_seed_and_person_disjoint():
    root = sample_root() / "lfw"
    a, b, c = (folder_split(root, 0.5, seed, pairs_per_fold=4, folds=4) for seed in (3, 3, 4))
    assert a.test_pairs == b.test_pairs and a.train_people == b.train_people
    assert c.train_people != a.train_people
    assert_disjoint(a)
    assert len(a.train_people) == 20 and len(a.test_people) <= 20 and a.name == "folder-split/seed3"
    for fold in range(4):
        pairs = [p for p in a.test_pairs if p.fold == fold]
        same = [p for p in pairs if p.same]
        assert len(same) == 4 and len(pairs) == 8
        assert all((p.path_a.parent == p.path_b.parent) == p.same and p.path_a != p.path_b for p in pairs)
        assert len({(p.path_a, p.path_b) for p in pairs}) == 8
    fold_people = [pair_people([p for p in a.test_pairs if p.fold == k]) for k in range(4)]
    assert not any(fold_people[i] & fold_people[j] for i in range(4) for j in range(i + 1, 4))
    with pytest.raises(ValueError, match="test_fraction"):
        folder_split(root, 1.0)
    with pytest.raises(ValueError, match="need at least 20"):
        folder_split(root, 0.2, folds=10)


def test_training_items_keep_the_split_people_with_enough_photos():
    split = lfw_protocol(sample_root(), "view2-2fold")[0]
    items = training_items(split, sample_root())
    assert len(items) == 80 and {person for _, person in items} == set(split.train_people)
    few = training_items(split, sample_root(), max_identities=3)
    assert [person for _, person in few] == [p for p in split.train_people[:3] for _ in range(4)]
    with pytest.raises(FileNotFoundError, match=">= 5 images per identity"):
        training_items(split, sample_root(), min_images=5)


def test_split_record_carries_names_and_digest():
    split = lfw_protocol(sample_root(), "view2-2fold")[1]
    record = split.record()
    assert record["protocol"] == "view2-2fold" and record["split"] == "view2-2fold/2"
    assert record["train_identities"] == identity_record(split.train_people)
    assert record["train_identities"]["count"] == 20 and len(record["train_identities"]["names"]) == 20
    assert (record["test_pairs"], record["test_people"]) == (60, 20)
    json.dumps(record)


def test_data_config_selects_training_photos_through_a_protocol():
    items = DataConfig(source="sample", max_identities=3).training_photos()
    assert len(items) == 12 and len({person for _, person in items}) == 3
    assert {p for _, p in DataConfig(split=1).training_photos()} == \
        set(lfw_protocol(sample_root(), "view2-2fold")[1].train_people)
    assert len(DataConfig(protocol="view2-10fold", split=9).training_photos()) == 36 * 4
    with pytest.raises(ValueError, match="has 2 split"):
        DataConfig(split=2).protocol_split()
    with pytest.raises(ValueError, match="needs a root"):
        DataConfig(source="lfw")
    with pytest.raises(ValueError, match="data source"):
        DataConfig(source="casia")
    with pytest.raises(ValueError, match="protocol"):
        DataConfig(protocol="view3")
    folders = DataConfig(source="folders", root=str(sample_root() / "lfw"))
    assert folders.protocol_split().name == "folder-split/seed0"
    assert {p.fold for p in folders.protocol_split().test_pairs} == {0, 1, 2, 3}  # 8 test people: 4 folds of 2
    assert not {p for _, p in folders.training_photos()} & folders.protocol_split().test_people


def test_former_dev_train_configs_still_read_as_view1(tmp_path):
    legacy = DataConfig(source="lfw-dev-train", root="/somewhere")
    assert (legacy.source, legacy.protocol) == ("lfw", "view1")
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"out_dir": "run", "data": {"source": "lfw-dev-train", "root": "/somewhere"}}))
    assert load_train_config(path).data.protocol == "view1"


def test_the_shipped_card_config_loads(tmp_path):
    card = json.loads((PACKAGED_CHECKPOINT.parent / "mem-fr.json").read_text())
    path = tmp_path / "train.json"
    path.write_text(json.dumps(card["train_config"]))
    config = load_train_config(path)
    assert (config.data.source, config.data.protocol, config.data.split) == ("lfw", "view2-2fold", 0)


def test_the_training_photos_of_the_shipped_camera_card(lfw_root):
    """The card's configuration names exactly the photos and people the shipped camera trained on."""
    card = json.loads((PACKAGED_CHECKPOINT.parent / "mem-fr.json").read_text())
    data = DataConfig(**{**card["train_config"]["data"], "root": str(lfw_root)})
    items = data.training_photos()
    assert len(items) == card["this_training"]["train_images"] == 4131
    assert len({p for _, p in items}) == card["train_identities"]["count"] == 801
