"""Every threshold the health rules use, in one place, each with where it comes from.

Sources: CS231n "Neural Networks Part 3: babysitting the learning process" (Karpathy);
Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural
networks" (AISTATS 2010); LeCun, Bottou, Orr & Mueller, "Efficient BackProp" (1998);
AUTOTRAINER (Zhang et al., ICSE 2021); DeepDiagnosis (Wardat et al., ICSE 2022).
"""

# --- when the rules look -------------------------------------------------------------------
WARMUP_STEPS = 30  # AUTOTRAINER skips the first iterations: early statistics are transients
PERSISTENCE = 3  # a condition must hold at this many consecutive probes (AUTOTRAINER: "continuous")
WINDOW_STEPS = 100  # the loss trend is read over this many steps

# --- activations -----------------------------------------------------------------------------
SATURATION_Z = 5.0  # |z| > 5: sigmoid' < 0.0067, tanh' < 0.00018 (Glorot & Bengio 2010, fig. 2)
SATURATED_HEAVILY = 0.8  # four in five saturated: little gradient passes even while the loss still falls ...
SATURATED_EARLY_STEPS = 1000  # ... in the first 1000 steps; after them heavy saturation needs a failing loss too
SATURATED_FRACTION = 0.5  # half of a layer's unit-samples saturated (DeepDiagnosis "saturated activation")
SATURATED_AT_INIT = 0.9  # nearly every unit saturated before the first update: it cannot start to learn
DEAD_AT_INIT = 0.9  # nearly every ReLU unit silent before the first update (e.g. a bias of -5)
DEAD_FRACTION = 0.5  # half of a ReLU layer's units dead (CS231n: "as much as 40% dead")
DEAD_SAMPLES = 128  # dead: zero for each of the last 128 samples the probes saw, whatever the batch size
# (128 is the default batch, where a whole-batch test measured 0 dead units in healthy He-initialised layers)
TINY = 1e-30  # non-zero magnitudes below this are on their way to underflow (the seed saw 1e-100)
TINY_FRACTION = 0.01  # 1 % of a tensor's entries tiny or subnormal
OVERFLOW = 1e30  # |value| beyond this will overflow once squared or exponentiated (float32 max 3.4e38)

# --- gradients -------------------------------------------------------------------------------
VANISHING_RATIO = 1e-4  # first-layer / last-layer gradient norm (AUTOTRAINER uses 1e-3 to 1e-4)
VANISHING_NORM = 1e-7  # or a first-layer gradient norm this small, in absolute terms
EXPLODING_NORM = 1e3  # a layer's gradient norm (AUTOTRAINER "exploding": > 1e3)
EXPLODING_GROWTH = 1e2  # or 100x the norm seen at warm-up

# --- learning rate (CS231n: update / weight norm ratio "somewhere around 1e-3") ------------------
UPDATE_RATIO_HIGH = 1e-1  # 100x the healthy ratio: every step rewrites a tenth of the weights
UPDATE_RATIO_LOW = 1e-5  # 100x below it: the weights hardly move
# Diverging (divergence.py, the one definition): the mean loss of a chunk of steps, at DIVERGING_CHUNKS chunk
# ends in a row, above DIVERGING_RISE x the best chunk mean so far (CS231n: "loss explodes"), where the best
# counts as at least DIVERGING_FLOOR x the first chunk's (a rise from 0.001 to 0.004 is noise, not a blow-up).
DIVERGING_RISE = 3.0
DIVERGING_FLOOR = 0.1
DIVERGING_CHUNKS = 1  # a chunk of 1000 samples is already a steady mean
TREND_SAMPLES = 1000  # a chunk holds at least this many samples, so batch-1 noise (tenfold swings) averages out
TREND_CHUNK_MIN = 1  # ... so 8 steps at batch 128, one step from batch 1000 up ...
TREND_CHUNK_MAX = 500  # ... but at most this many, so batch 1 is judged within 1000 steps

# --- progress ----------------------------------------------------------------------------------
CHANCE_FRACTION = 0.9  # a loss within 10 % of uniform guessing's after a full window has learned nothing
STUCK_IMPROVEMENT = 0.01  # under 1 % relative improvement of the smoothed loss over a window ...
STUCK_FRACTION_OF_INITIAL = 0.5  # ... while the loss is still above half its initial value
OSCILLATION_SIGN_CHANGES = 0.6  # share of sign changes between successive loss differences
OSCILLATION_AMPLITUDE = 0.1  # differences at least 10 % of the loss

# --- before the first step ---------------------------------------------------------------------
INITIAL_LOSS_FACTOR = 3.0  # CS231n: the initial softmax loss should be ln(classes); 3x means broken init
INPUT_ABS_MEAN = 5.0  # LeCun et al. 1998, sec. 4.3: inputs should have mean near 0 ...
INPUT_STD = 10.0  # ... and similar, modest variance (pixels 0-255 give mean 33, std 79)
LABEL_MAJORITY = 0.9  # one class holding 90 % of the labels makes accuracy meaningless
LABEL_MIN_ROWS = 20  # the class counts of fewer rows are not judged: a handful of rows is skewed by chance
# A table's columns (health/columns.py): the widest column's spread (typical departure from its median) 1000x the
# narrowest's. LeCun et al. 1998, sec. 4.3: inputs of similar variance, else the weights of the narrow input
# need steps 1000x larger than one learning rate gives them. Both the standard deviations and the typical
# departures must be that far apart: pixels' departures stay within 255x (8-bit levels) and standardized
# columns' deviations are equal, so MNIST under any normalization cannot reach it.
COLUMN_SCALE_RATIO = 1000.0
# A feature column rising with every row, in at least this many rows, is a row number or an ID (row_counter): 20 rows
# in order leave no room for chance (a column of 20 random values is in order one time in 20! = 2.4e18).
ROW_COUNTER_ROWS = 20
# A label that looks like an index or an ID (health/classes.py): at least one class for every two rows, most
# classes seen in a single row. A class seen once cannot be both learned and tested.
ID_CLASSES_PER_ROW = 0.5
ID_SINGLE_ROW_SHARE = 0.5
# Classes so skewed that accuracy misleads (health/classes.py). The largest class holding 70 % of the rows: always
# answering it already scores 70 %, and ignoring every other class costs at most 30 %. Or the largest class 10x
# the smallest (the usual line for "severe" imbalance, He & Garcia, "Learning from Imbalanced Data", IEEE TKDE
# 2009): the small class's recall hardly moves accuracy. Counts are compared only where the classes average 20
# rows: a class expected to hold 5 rows holds 1 to 11 by chance alone (Poisson), 10x apart with no skew at all.
IMBALANCE_SHARE = 0.7
IMBALANCE_RATIO = 10.0
IMBALANCE_ROWS_PER_CLASS = 20
# The hidden activations' RMS falls tenfold from the first hidden layer to the last before any update. Weights
# that keep the variance for tanh (Glorot) halve it in every ReLU layer (He et al. 2015, eq. 10): the RMS is
# x0.71 per layer, x0.04 over ten. The gradients reaching the first layers shrink alike.
SIGNAL_SHRINK_AT_INIT = 0.1

# --- repair's yardstick --------------------------------------------------------------------------
# A quiet run that learned less than half of what the healthy recipe learns on the same layers, data, batch and
# steps (accuracy above chance) is not healthy: repair starts on it. Once repair is changing a run, it goes on
# until the run learns nine tenths of what the recipe learns (each change kept only when it probes better).
YARDSTICK_SHARE = 0.5
YARDSTICK_SHARE_REPAIRING = 0.9
