/* A plain C two-layer classifier, the kind written for a course exercise: fixed-size double arrays.
 * Habits imitated: rows are samples, w1[IN][HID] and w2[HID][OUT] (in x out), bias arrays, sigmoid hidden
 * layer, softmax output (max subtracted) with cross-entropy averaged over the batch, integer class labels,
 * d_out = (p - onehot) / B, backprop with loops, w -= lr * dw. Weights from a hand-written LCG. Every tensor
 * is written with fprintf(f, "%f ", v) (6 decimals: lossy), one row per line; labels with "%d".
 * usage: c_printf_f OUTDIR [bug | --fd]     bugs: no_divide_batch sigmoid_prime_of_z db_first_sample */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B 8
#define IN 4
#define HID 6
#define OUT 3

static unsigned long long lcg_state = 2024;
static double uniform(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg_state >> 11) / 9007199254740992.0;
}

static double x[B][IN], w1[IN][HID], b1[HID], w2[HID][OUT], b2[OUT];
static int y[B];
static double z1[B][HID], h[B][HID], z2[B][OUT], p[B][OUT];
static double d2[B][OUT], d1[B][HID], dw1[IN][HID], db1[HID], dw2[HID][OUT], db2[OUT];

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

static double forward(void) {
    double loss = 0;
    for (int n = 0; n < B; n++) {
        for (int j = 0; j < HID; j++) {
            z1[n][j] = b1[j];
            for (int i = 0; i < IN; i++) z1[n][j] += x[n][i] * w1[i][j];
            h[n][j] = sigmoid(z1[n][j]);
        }
        double max = -1e300, sum = 0;
        for (int k = 0; k < OUT; k++) {
            z2[n][k] = b2[k];
            for (int j = 0; j < HID; j++) z2[n][k] += h[n][j] * w2[j][k];
            if (z2[n][k] > max) max = z2[n][k];
        }
        for (int k = 0; k < OUT; k++) sum += (p[n][k] = exp(z2[n][k] - max));
        for (int k = 0; k < OUT; k++) p[n][k] /= sum;
        loss -= log(p[n][y[n]]);
    }
    return loss / B;
}

static void backward(const char *bug) {
    double scale = strcmp(bug, "no_divide_batch") == 0 ? 1.0 : 1.0 / B;
    memset(dw1, 0, sizeof dw1); memset(db1, 0, sizeof db1);
    memset(dw2, 0, sizeof dw2); memset(db2, 0, sizeof db2);
    for (int n = 0; n < B; n++)
        for (int k = 0; k < OUT; k++) d2[n][k] = (p[n][k] - (k == y[n])) * scale;
    for (int n = 0; n < B; n++)
        for (int j = 0; j < HID; j++) {
            double e = 0;
            for (int k = 0; k < OUT; k++) e += d2[n][k] * w2[j][k];
            double slope = strcmp(bug, "sigmoid_prime_of_z") == 0 ? z1[n][j] * (1 - z1[n][j]) : h[n][j] * (1 - h[n][j]);
            d1[n][j] = e * slope;
        }
    for (int n = 0; n < B; n++) {
        for (int j = 0; j < HID; j++)
            for (int k = 0; k < OUT; k++) dw2[j][k] += h[n][j] * d2[n][k];
        for (int i = 0; i < IN; i++)
            for (int j = 0; j < HID; j++) dw1[i][j] += x[n][i] * d1[n][j];
        for (int j = 0; j < HID; j++) db1[j] += d1[n][j];
        for (int k = 0; k < OUT; k++) db2[k] += d2[n][k];
    }
    if (strcmp(bug, "db_first_sample") == 0)
        for (int k = 0; k < OUT; k++) db2[k] = d2[0][k];
}

static const char *dir;
static FILE *open_file(const char *name) {
    char file[1024];
    snprintf(file, sizeof file, "%s/%s", dir, name);
    FILE *f = fopen(file, "w");
    if (!f) { perror(file); exit(1); }
    return f;
}
static void save(const char *name, const double *m, int rows, int cols) {
    FILE *f = open_file(name);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) fprintf(f, "%f ", m[r * cols + c]);
        fprintf(f, "\n");
    }
    fclose(f);
}

static void fd_check(FILE *f, const char *name, double *param, const double *grad, int count) {
    const double eps = 1e-6;
    for (int i = 0; i < count; i++) {
        double keep = param[i];
        param[i] = keep + eps; double up = forward();
        param[i] = keep - eps; double down = forward();
        param[i] = keep;
        fprintf(f, "%s %.17g %.17g\n", name, grad[i], (up - down) / (2 * eps));
    }
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s OUTDIR [bug | --fd]\n", argv[0]); return 2; }
    dir = argv[1];
    const char *bug = argc > 2 ? argv[2] : "";
    for (int i = 0; i < IN; i++) for (int j = 0; j < HID; j++) w1[i][j] = (uniform() * 2 - 1) * 0.9;
    for (int j = 0; j < HID; j++) b1[j] = (uniform() - 0.5) * 0.2;
    for (int j = 0; j < HID; j++) for (int k = 0; k < OUT; k++) w2[j][k] = (uniform() * 2 - 1) * 1.2;
    for (int k = 0; k < OUT; k++) b2[k] = (uniform() - 0.5) * 0.2;
    for (int n = 0; n < B; n++) {
        for (int i = 0; i < IN; i++) x[n][i] = uniform() * 4 - 2;
        y[n] = n % OUT;
    }
    double loss = forward();
    backward(bug);

    if (strcmp(bug, "--fd") == 0) {
        FILE *f = open_file("fd.txt");
        fd_check(f, "dW0", &w1[0][0], &dw1[0][0], IN * HID);
        fd_check(f, "db0", b1, db1, HID);
        fd_check(f, "dW1", &w2[0][0], &dw2[0][0], HID * OUT);
        fd_check(f, "db1", b2, db2, OUT);
        fclose(f);
        return 0;
    }
    save("x.txt", &x[0][0], B, IN);
    FILE *f = open_file("t.txt");
    for (int n = 0; n < B; n++) fprintf(f, "%d\n", y[n]);
    fclose(f);
    save("W0.txt", &w1[0][0], IN, HID);
    save("b0.txt", b1, 1, HID);
    save("W1.txt", &w2[0][0], HID, OUT);
    save("b1.txt", b2, 1, OUT);
    save("a0.txt", &h[0][0], B, HID);
    save("a1.txt", &p[0][0], B, OUT);
    save("delta0.txt", &d1[0][0], B, HID);
    save("delta1.txt", &d2[0][0], B, OUT);
    save("dW0.txt", &dw1[0][0], IN, HID);
    save("db0.txt", db1, 1, HID);
    save("dW1.txt", &dw2[0][0], HID, OUT);
    save("db1.txt", db2, 1, OUT);
    save("loss.txt", &loss, 1, 1);
    f = open_file("network.json");
    fprintf(f, "{\"sizes\": [%d, %d, %d], \"activations\": [\"sigmoid\", \"softmax\"], \"loss\": \"ce\", \"lr\": %f}\n",
            IN, HID, OUT, 0.1);
    fclose(f);
    return 0;
}
