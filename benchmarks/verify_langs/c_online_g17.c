/* A C "layers in a loop" MLP that runs the batch one sample at a time and accumulates the gradients.
 * Habits imitated: w[l][j][i] is weight from input i to unit j (out x in, the textbook w_ji), bias arrays,
 * 3-5-5-2 with tanh, tanh, linear output, squared error 1/2 ||y - t||^2 averaged over the batch; for each
 * sample: forward, delta_out = y - t, delta_j = (sum_k w_kj delta_k) * (1 - a_j^2), dw += delta_j * a_i;
 * after the batch, w -= lr * dw / B. The deltas it keeps are per sample (not divided by B). Every tensor is
 * written with "%.17g" separated by spaces, including the weights after the step, and network.json with a
 * hand-written fprintf. A xorshift64 generator gives the weights.
 * usage: c_online_g17 OUTDIR [bug | --fd]    bugs: backprop_no_transpose db_overwritten no_tanh_prime_layer1 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L 3
#define B 6
#define MAXN 5
static const int size[L + 1] = {3, 5, 5, 2};
static const double lr = 0.05;

static unsigned long long rng = 88172645463325252ULL;
static double frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double w[L][MAXN][MAXN], b[L][MAXN];
static double dw[L][MAXN][MAXN], db[L][MAXN];
static double act[L + 1][MAXN];  /* act[0] = the sample, act[l + 1] = output of layer l */
static double x[B][MAXN], t[B][MAXN];
static double a_all[L][B][MAXN], delta_all[L][B][MAXN];

static void forward(const double *in) {
    memcpy(act[0], in, sizeof act[0]);
    for (int l = 0; l < L; l++)
        for (int j = 0; j < size[l + 1]; j++) {
            double s = b[l][j];
            for (int i = 0; i < size[l]; i++) s += w[l][j][i] * act[l][i];
            act[l + 1][j] = l < L - 1 ? tanh(s) : s;
        }
}

static double batch_loss(void) {
    double loss = 0;
    for (int n = 0; n < B; n++) {
        forward(x[n]);
        for (int k = 0; k < size[L]; k++) loss += 0.5 * (act[L][k] - t[n][k]) * (act[L][k] - t[n][k]);
    }
    return loss / B;
}

static void gradients(const char *bug) {
    memset(dw, 0, sizeof dw);
    memset(db, 0, sizeof db);
    for (int n = 0; n < B; n++) {
        double delta[L][MAXN];
        forward(x[n]);
        for (int k = 0; k < size[L]; k++) delta[L - 1][k] = act[L][k] - t[n][k];
        for (int l = L - 2; l >= 0; l--)
            for (int j = 0; j < size[l + 1]; j++) {
                double e = 0;
                for (int k = 0; k < size[l + 2]; k++)
                    e += (strcmp(bug, "backprop_no_transpose") == 0 && l == 0 ? w[l + 1][j][k] : w[l + 1][k][j]) *
                         delta[l + 1][k];
                int skip = strcmp(bug, "no_tanh_prime_layer1") == 0 && l == 1;
                delta[l][j] = skip ? e : e * (1 - act[l + 1][j] * act[l + 1][j]);
            }
        for (int l = 0; l < L; l++)
            for (int j = 0; j < size[l + 1]; j++) {
                for (int i = 0; i < size[l]; i++) dw[l][j][i] += delta[l][j] * act[l][i] / B;
                if (strcmp(bug, "db_overwritten") == 0) db[l][j] = delta[l][j] / B;
                else db[l][j] += delta[l][j] / B;
                delta_all[l][n][j] = delta[l][j];
                a_all[l][n][j] = act[l + 1][j];
            }
    }
}

static const char *dir;
static FILE *open_file(const char *name) {
    char file[1024];
    snprintf(file, sizeof file, "%s/%s", dir, name);
    FILE *f = fopen(file, "w");
    if (!f) { perror(file); exit(1); }
    return f;
}
/* m is rows x cols inside a MAXN-wide array */
static void save(const char *name, int l, const double *m, int rows, int cols) {
    char file[64];
    snprintf(file, sizeof file, name, l);
    FILE *f = open_file(file);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) fprintf(f, "%.17g ", m[r * MAXN + c]);
        fputc('\n', f);
    }
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s OUTDIR [bug | --fd]\n", argv[0]); return 2; }
    dir = argv[1];
    const char *bug = argc > 2 ? argv[2] : "";
    for (int l = 0; l < L; l++)
        for (int j = 0; j < size[l + 1]; j++) {
            for (int i = 0; i < size[l]; i++) w[l][j][i] = (frand() * 2 - 1) / sqrt(size[l]) * 1.5;
            b[l][j] = (frand() * 2 - 1) * 0.3;
        }
    for (int n = 0; n < B; n++) {
        for (int i = 0; i < size[0]; i++) x[n][i] = frand() * 2 - 1;
        t[n][0] = x[n][0] * x[n][1];
        t[n][1] = x[n][2] - 0.5 * x[n][0];
    }
    gradients(bug);

    if (strcmp(bug, "--fd") == 0) {
        FILE *f = open_file("fd.txt");
        const double eps = 1e-6;
        for (int l = 0; l < L; l++)
            for (int j = 0; j < size[l + 1]; j++)
                for (int i = -1; i < size[l]; i++) {  /* i = -1: the bias */
                    double *p = i < 0 ? &b[l][j] : &w[l][j][i], keep = *p;
                    *p = keep + eps; double up = batch_loss();
                    *p = keep - eps; double down = batch_loss();
                    *p = keep;
                    fprintf(f, "d%c%d %.17g %.17g\n", i < 0 ? 'b' : 'W', l, i < 0 ? db[l][j] : dw[l][j][i],
                            (up - down) / (2 * eps));
                }
        fclose(f);
        return 0;
    }
    save("x.txt", 0, &x[0][0], B, size[0]);
    save("t.txt", 0, &t[0][0], B, size[L]);
    for (int l = 0; l < L; l++) {
        save("W%d.txt", l, &w[l][0][0], size[l + 1], size[l]);
        save("b%d.txt", l, b[l], 1, size[l + 1]);
        save("a%d.txt", l, &a_all[l][0][0], B, size[l + 1]);
        save("delta%d.txt", l, &delta_all[l][0][0], B, size[l + 1]);
        save("dW%d.txt", l, &dw[l][0][0], size[l + 1], size[l]);
        save("db%d.txt", l, db[l], 1, size[l + 1]);
    }
    for (int l = 0; l < L; l++)
        for (int j = 0; j < size[l + 1]; j++) {
            for (int i = 0; i < size[l]; i++) w[l][j][i] -= lr * dw[l][j][i];
            b[l][j] -= lr * db[l][j];
        }
    for (int l = 0; l < L; l++) {
        save("W%d.after.txt", l, &w[l][0][0], size[l + 1], size[l]);
        save("b%d.after.txt", l, b[l], 1, size[l + 1]);
    }
    FILE *f = open_file("network.json");
    fprintf(f, "{\"sizes\": [3, 5, 5, 2], \"activations\": [\"tanh\", \"tanh\", \"linear\"], \"loss\": \"mse\", "
               "\"lr\": %.17g, \"weights\": \"out_in\"}\n", lr);
    fclose(f);
    return 0;
}
