"""Elastic weight consolidation (Kirkpatrick et al. 2017, PNAS): a quadratic penalty that holds
the parameters near those of earlier stages, weighted by how much each parameter mattered there.

After stage k, with parameters θ*_k and diagonal Fisher F_k, the penalty on θ is

    P(θ) = λ/2 Σ_k Σ_i F_k,i (θ_i - θ*_k,i)²  =  λ/2 (Σ_i A_i θ_i² - 2 Σ_i b_i θ_i + c)

with A = Σ_k F_k, b = Σ_k F_k θ*_k, c = Σ_k Σ_i F_k,i θ*_k,i²: three sums kept in float64, so
the memory does not grow with the stages. dP/dθ = λ (A θ - b). The expressions are elementwise,
so they run on NumPy and CuPy arrays alike.
"""


def ewc_forward(theta, A, b, c: float, lam: float):
    """theta, A, b: (P,) -> (penalty: float, cache)."""
    t = theta.astype(A.dtype)
    return float(0.5 * lam * ((A * t * t).sum() - 2 * (b * t).sum() + c)), (t, A, b, lam)


def ewc_backward(cache):
    """-> dtheta: (P,) in the dtype of A (float64)."""
    t, A, b, lam = cache
    return lam * (A * t - b)
