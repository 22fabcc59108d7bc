"""Reference values for the experiment statistics tests.

Run with Debian's python3 (scipy 1.10.1, numpy 1.24.2):
    /usr/bin/python3 tests/EdgePlatform.ControlPlane.Tests/Experiments/Statistics/reference_values.py
Every value it prints is pasted, with its inputs, into the test that checks it.
"""
import numpy as np
from scipy import stats, special, optimize

r = lambda v: repr(float(v))

print("# distributions")
for x in [-37.5, -10, -5, -3, -1.96, -0.5, 0, 0.3, 1, 2.5, 8]:
    print("normal.cdf", x, r(stats.norm.cdf(x)))
for p in [1e-300, 1e-10, 1e-4, 0.025, 0.3, 0.5, 0.975, 0.999999]:
    print("normal.ppf", p, r(stats.norm.ppf(p)))
for df in [1, 2, 3, 5, 10, 30, 1000, 1e5]:
    for t in [-50, -3, -1, 0.001, 2, 10]:
        print("t.cdf", t, df, r(stats.t.cdf(t, df)))
    print("t.sf", 40, df, r(stats.t.sf(40, df)))
    for p in [0.975, 0.9995]:
        print("t.ppf", p, df, r(stats.t.ppf(p, df)))
for df in [1, 2, 3, 10, 100]:
    for x in [0.001, 1, 5, 20, 200]:
        print("chi2.sf", x, df, r(stats.chi2.sf(x, df)))
for x in [0.1, 0.5, 1, 2.5, 10, 171.3, 1e5]:
    print("lgamma", x, r(special.gammaln(x)))

print("# welch on two fixed samples")
a = np.array([19.3, 22.1, 18.7, 25.0, 21.4, 20.2, 23.8, 17.9, 22.6, 20.0])
b = np.array([24.1, 27.9, 21.5, 30.2, 26.4, 23.3, 29.0, 25.7])
res = stats.ttest_ind(b, a, equal_var=False)
va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
half = stats.t.ppf(0.975, dof) * np.sqrt(va + vb)
print("welch t", r(res.statistic), "p", r(res.pvalue), "dof", r(dof), "diff", r(b.mean() - a.mean()), "ci", r(b.mean() - a.mean() - half), r(b.mean() - a.mean() + half))

print("# two-proportion z: control 480/1000, treatment 530/1000 (pooled z, unpooled interval)")
xc, nc, xt, nt = 480, 1000, 530, 1000
pc, pt = xc / nc, xt / nt
pp = (xc + xt) / (nc + nt)
z = (pt - pc) / np.sqrt(pp * (1 - pp) * (1 / nc + 1 / nt))
se = np.sqrt(pc * (1 - pc) / nc + pt * (1 - pt) / nt)
print("z", r(z), "p", r(2 * stats.norm.sf(abs(z))), "ci", r(pt - pc - stats.norm.ppf(0.975) * se), r(pt - pc + stats.norm.ppf(0.975) * se))

print("# chi-square SRM")
for obs, shares in [([5550, 4450], [0.5, 0.5]), ([5030, 4970], [0.5, 0.5]), ([3400, 3300, 3300], [1 / 3] * 3), ([2100, 7900], [0.2, 0.8])]:
    exp = np.array(shares) / sum(shares) * sum(obs)
    c = stats.chisquare(obs, f_exp=exp)
    print("chisquare", obs, shares, r(c.statistic), r(c.pvalue))

print("# power: n per arm = 2 (z_{1-a/2} + z_power)^2 sigma^2 / delta^2, and the exact normal power root")
def n_closed(sd, d, alpha, power):
    return 2 * (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) ** 2 * sd**2 / d**2
def n_root(sd, d, alpha, power):
    z = stats.norm.ppf(1 - alpha / 2)
    f = lambda n: stats.norm.cdf(d / sd * np.sqrt(n / 2) - z) + stats.norm.cdf(-d / sd * np.sqrt(n / 2) - z) - power
    return optimize.brentq(f, 1, 1e9)
for sd, d, alpha, power in [(1, 0.5, 0.05, 0.8), (np.sqrt(0.8 * 0.2), 0.02, 0.05, 0.8), (1, 0.2, 0.05 / 2, 0.9), (2.5, 0.1, 0.01, 0.95)]:
    print("power", r(sd), d, alpha, power, r(n_closed(sd, d, alpha, power)), r(n_root(sd, d, alpha, power)))

print("# delta method and CUPED on a fixed data set (numpy)")
rng = np.random.default_rng(20261207)
def arm(n, lift):
    y0 = rng.integers(5, 40, n)
    skill = rng.normal(0, 0.08, n)
    x0 = np.clip(np.round(y0 * (0.7 + skill + rng.normal(0, 0.03, n))), 0, y0)
    y = rng.integers(5, 40, n)
    x = np.clip(np.round(y * (0.7 + lift + skill + rng.normal(0, 0.03, n))), 0, y)
    return x.astype(float), y.astype(float), x0.astype(float), y0.astype(float)
C = arm(40, 0.0)
T = arm(40, 0.03)
for name, (x, y, x0, y0) in (("control", C), ("treatment", T)):
    print(name, "x", list(map(int, x)))
    print(name, "y", list(map(int, y)))
    print(name, "x0", list(map(int, x0)))
    print(name, "y0", list(map(int, y0)))

def ratio_var(x, y):
    n = len(x)
    R = x.sum() / y.sum()
    L = (x - R * y) / y.mean()
    return R, L.var(ddof=1) / n, L
def delta_by_moments(x, y):
    n = len(x); mx, my = x.mean(), y.mean()
    cov = np.cov(x, y, ddof=1)
    return (cov[0, 0] / my**2 - 2 * mx * cov[0, 1] / my**3 + mx**2 * cov[1, 1] / my**4) / n
Rc, Vc, Lc = ratio_var(C[0], C[1])
Rt, Vt, Lt = ratio_var(T[0], T[1])
print("delta control ratio", r(Rc), "var", r(Vc), "moments form", r(delta_by_moments(C[0], C[1])))
print("delta treatment ratio", r(Rt), "var", r(Vt), "moments form", r(delta_by_moments(T[0], T[1])))
print("delta abs diff", r(Rt - Rc), "se", r(np.sqrt(Vc + Vt)))
rel = Rt / Rc - 1
rel_var = Vt / Rc**2 + Vc * Rt**2 / Rc**4
print("delta rel", r(rel), "se", r(np.sqrt(rel_var)))

_, _, Pc = ratio_var(C[2], C[3])
_, _, Pt = ratio_var(T[2], T[3])
theta = (np.dot(Lc, Pc) + np.dot(Lt, Pt)) / (np.dot(Pc, Pc) + np.dot(Pt, Pt))
R0c, R0t = C[2].sum() / C[3].sum(), T[2].sum() / T[3].sum()
R0 = (C[2].sum() + T[2].sum()) / (C[3].sum() + T[3].sum())
adj_c = Rc - theta * (R0c - R0)
adj_t = Rt - theta * (R0t - R0)
vc = (Lc - theta * Pc).var(ddof=1) / len(Lc)
vt = (Lt - theta * Pt).var(ddof=1) / len(Lt)
print("cuped theta", r(theta), "adjusted control", r(adj_c), "var", r(vc), "adjusted treatment", r(adj_t), "var", r(vt))
print("cuped abs diff", r(adj_t - adj_c), "se", r(np.sqrt(vc + vt)), "variance reduction", r(1 - (vc + vt) / (Vc + Vt)))

print("# paired differences (shadow mode): one-sample t on the per-event differences")
d = np.array([0.0, 1.0, 0.0, 0.0, -1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, -1.0, 0.0, 1.0, 0.0])
res = stats.ttest_1samp(d, 0.0)
half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
print("paired mean", r(d.mean()), "t", r(res.statistic), "p", r(res.pvalue), "ci", r(d.mean() - half), r(d.mean() + half))
