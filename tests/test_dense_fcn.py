import pytest
import torch

from faceveil.nn.dense_fcn import DenseBlock, DenseFCN


def _parameters(model) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def test_tiramisu_sizes_match_the_paper():
    # Jégou et al. 2017, Table 2 (RGB in, 11 CamVid classes out): FC-DenseNet56 1.5 M, FC-DenseNet67 3.5 M
    # (the paper rounds to one decimal: 56 counts 1.38 M here).
    assert _parameters(DenseFCN(3, 11, 48, 12, 4, 5)) == pytest.approx(1.5, rel=0.1)
    assert _parameters(DenseFCN(3, 11, 48, 16, 5, 5)) == pytest.approx(3.5, rel=0.02)


def test_a_dense_block_passes_its_input_on_and_adds_growth_maps_per_layer():
    block = DenseBlock(5, growth=3, layers=4).eval()
    x = torch.randn(2, 5, 8, 8)
    y = block(x)
    assert y.shape == (2, 5 + 4 * 3, 8, 8) and block.out_channels == 17
    assert torch.equal(y[:, :5], x)
    # the last layer sees every earlier layer's maps: changing the first new maps changes its output
    first = block.layers[0]
    with torch.no_grad():
        first[2].weight.add_(1.0)
    assert not torch.allclose(block(x)[:, -3:], y[:, -3:])


@pytest.mark.parametrize("size", [(64, 64), (50, 37), (7, 9)])
def test_any_input_size_gives_probabilities_of_the_same_size(size):
    model = DenseFCN(1, 1, stem_channels=8, growth=4, layers=2, levels=3).eval()
    with torch.no_grad():
        y = model(torch.rand(2, 1, *size))
    assert y.shape == (2, 1, *size) and float(y.min()) > 0 and float(y.max()) < 1


def test_every_level_receives_gradient():
    model = DenseFCN(1, 1, stem_channels=8, growth=4, layers=2, levels=3)
    model(torch.rand(2, 1, 32, 32)).mean().backward()
    assert model.stem.weight.grad.abs().sum() > 0
    assert all(block.layers[0][2].weight.grad.abs().sum() > 0 for block in [*model.down_blocks, model.middle])


def test_bad_settings_and_inputs_are_refused():
    with pytest.raises(ValueError, match="growth"):
        DenseFCN(growth=0)
    with pytest.raises(ValueError, match="N, C, H, W"):
        DenseFCN(1, 1, 8, 4, 2, 2)(torch.rand(1, 16, 16))
