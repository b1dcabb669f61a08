# %% [markdown]
# # accnum walkthrough: seeing a sampler converge
#
# A teaching notebook in percent format (open it in Jupyter with jupytext, or run it as a
# script: `python notebooks/walkthrough.py`).  It draws samples, measures exact errors and
# fits an order, on the default 1-D mixture gmm1d.

# %%
import numpy as np

import accnum
from accnum import schedules, targets
from accnum.experiments.rates import convergence
from accnum.metrics import exact, path_kl

target = targets.get("gmm1d")
print(target, "weights", target.weights)

# %% [markdown]
# ## One sampler, one T
# The exact TV of `accel-ode` against `q_1`, by change of variables; no histogram involved.

# %%
sched = schedules.li2024(200)
print(exact(target, "ddim-li", sched))
print(exact(target, "accel-ode", sched))
print(path_kl(target, "accel-sde", sched))

# %% [markdown]
# ## Samples
# The same samplers as maps: their outputs, and the target's moments.

# %%
for name in ("ddim-li", "accel-ode"):
    x = accnum.sample(target, name, sched, n=20_000, seed=0).x
    print(f"{name:10s} mean {x.mean():+.4f}  var {x.var():.4f}")
q1 = target.diffused(sched.alpha_bar[1])
print(f"{'q_1':10s} mean {q1.mean()[0]:+.4f}  var {q1.covariance()[0, 0]:.4f}")

# %% [markdown]
# ## Orders
# Fit `log err = a + p log h` over a grid of T.

# %%
res = convergence(target, ["ddim-li", "accel-ode"], "li2024", [100, 200, 400, 800], metric="tv")
print(res.table())
res.plot("walkthrough-rates.png")
print(np.round([o["order"] for o in res.orders], 2))
