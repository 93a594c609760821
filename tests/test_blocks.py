import pytest
import torch

from backbones_tutorial.models.blocks import BasicBlock, Bottleneck, projection


@pytest.mark.parametrize(
    "block, in_shape, out_shape",
    [
        (BasicBlock(64, 64), (2, 64, 16, 16), (2, 64, 16, 16)),
        (BasicBlock(64, 128, stride=2, downsample=projection(64, 128, 2)), (2, 64, 16, 16), (2, 128, 8, 8)),
        (BasicBlock(64, 128, stride=2, downsample=projection(64, 128, 2)), (1, 64, 15, 9), (1, 128, 8, 5)),
        (Bottleneck(64, 64, downsample=projection(64, 256, 1)), (2, 64, 16, 16), (2, 256, 16, 16)),
        (Bottleneck(256, 128, stride=2, downsample=projection(256, 512, 2)), (1, 256, 15, 16), (1, 512, 8, 8)),
    ],
)
def test_block_output_shapes_follow_stride_and_expansion(block, in_shape, out_shape):
    assert block(torch.randn(in_shape)).shape == out_shape


def test_identity_block_with_zeroed_residual_branch_is_relu_of_input():
    block = BasicBlock(8, 8).eval()
    torch.nn.init.zeros_(block.bn2.weight)  # F(x) = 0, so out = relu(0 + x)
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(block(x), torch.relu(x))


def test_stride_two_block_without_projection_cannot_add_the_shortcut():
    block = BasicBlock(64, 128, stride=2)
    with pytest.raises(RuntimeError, match=r"\[1, 128, 4, 4\].*\[1, 64, 8, 8\].*projection\(64, 128, 2\)"):
        block(torch.randn(1, 64, 8, 8))


@pytest.mark.parametrize("block", [BasicBlock(64, 64), Bottleneck(256, 64)])
def test_blocks_reject_wrong_channels_and_unbatched_input(block):
    c = block.conv1.in_channels
    with pytest.raises(ValueError, match=f"expects {c} input channels"):
        block(torch.randn(1, c + 1, 8, 8))
    with pytest.raises(ValueError, match=r"4-D batch.*unsqueeze\(0\)"):
        block(torch.randn(c, 8, 8))
