"""NumPy reference of every operation: <op>_forward(...) -> (y, cache),
<op>_backward(dy, cache) -> gradients of the floating inputs, in argument order."""
from .dilated_conv import dilated_conv_backward, dilated_conv_forward
from .gate import gate_backward, gate_forward
from .global_cond import global_cond_backward, global_cond_forward
from .input_conv import input_conv_backward, input_conv_forward
from .mu_law import mu_law_decode, mu_law_encode
from .output_head import output_head_backward, output_head_forward
from .residual_skip import residual_skip_backward, residual_skip_forward
from .softmax_ce import log_softmax, softmax_ce_backward, softmax_ce_forward

__all__ = ["dilated_conv_backward", "dilated_conv_forward", "gate_backward", "gate_forward",
           "global_cond_backward", "global_cond_forward", "input_conv_backward",
           "input_conv_forward", "log_softmax", "mu_law_decode", "mu_law_encode",
           "output_head_backward", "output_head_forward", "residual_skip_backward",
           "residual_skip_forward", "softmax_ce_backward", "softmax_ce_forward"]
