/* A C network in single precision, as written for speed or for a microcontroller: float everywhere.
 * Habits imitated: float arithmetic with expf, rows are samples, W[out][in] (the weight row of each unit,
 * z_j = b_j + sum_i W[j][i] x_i), bias arrays, 5-7-3 with a ReLU hidden layer (mask from z > 0) and a sigmoid
 * output, squared error 1/2 ||y - t||^2 averaged over the batch, delta_out = (y - t) y (1 - y) / B,
 * dW = delta^T a, db = column sums, W -= lr * dW. A 32-bit LCG gives the weights. Every tensor is printed
 * with "%g " (6 significant digits), one row per line, network.json with fprintf.
 * usage: c_float_g OUTDIR [bug | --fd]     bugs: no_output_derivative dW1_in_out relu_no_mask */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B 4
#define NI 5
#define NH 7
#define NO 3

static unsigned int seed = 31337u;
static float frand(void) {
    seed = seed * 1664525u + 1013904223u;
    return (float)(seed >> 8) / 16777216.0f;
}

static float X[B][NI], T[B][NO], W0[NH][NI], b0[NH], W1[NO][NH], b1[NO];
static float Z0[B][NH], A0[B][NH], A1[B][NO], D0[B][NH], D1[B][NO];
static float dW0[NH][NI], db0[NH], dW1[NO][NH], db1[NO], dW1_io[NH][NO];

static float forward(void) {
    float loss = 0.0f;
    for (int n = 0; n < B; n++) {
        for (int j = 0; j < NH; j++) {
            float z = b0[j];
            for (int i = 0; i < NI; i++) z += W0[j][i] * X[n][i];
            Z0[n][j] = z;
            A0[n][j] = z > 0.0f ? z : 0.0f;
        }
        for (int k = 0; k < NO; k++) {
            float z = b1[k];
            for (int j = 0; j < NH; j++) z += W1[k][j] * A0[n][j];
            A1[n][k] = 1.0f / (1.0f + expf(-z));
            loss += 0.5f * (A1[n][k] - T[n][k]) * (A1[n][k] - T[n][k]);
        }
    }
    return loss / B;
}

static void backward(const char *bug) {
    memset(dW0, 0, sizeof dW0); memset(db0, 0, sizeof db0);
    memset(dW1, 0, sizeof dW1); memset(db1, 0, sizeof db1); memset(dW1_io, 0, sizeof dW1_io);
    for (int n = 0; n < B; n++) {
        for (int k = 0; k < NO; k++) {
            float y = A1[n][k], e = y - T[n][k];
            D1[n][k] = (strcmp(bug, "no_output_derivative") == 0 ? e : e * y * (1.0f - y)) / B;
        }
        for (int j = 0; j < NH; j++) {
            float e = 0.0f;
            for (int k = 0; k < NO; k++) e += W1[k][j] * D1[n][k];
            D0[n][j] = strcmp(bug, "relu_no_mask") == 0 || Z0[n][j] > 0.0f ? e : 0.0f;
        }
        for (int k = 0; k < NO; k++) {
            for (int j = 0; j < NH; j++) dW1[k][j] += D1[n][k] * A0[n][j];
            for (int j = 0; j < NH; j++) dW1_io[j][k] += D1[n][k] * A0[n][j];
            db1[k] += D1[n][k];
        }
        for (int j = 0; j < NH; j++) {
            for (int i = 0; i < NI; i++) dW0[j][i] += D0[n][j] * X[n][i];
            db0[j] += D0[n][j];
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
static void save(const char *name, const float *m, int rows, int cols) {
    FILE *f = open_file(name);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) fprintf(f, "%g ", m[r * cols + c]);
        fprintf(f, "\n");
    }
    fclose(f);
}
static void fd_check(FILE *f, const char *name, float *param, const float *grad, int count) {
    const float eps = 1e-3f;
    for (int i = 0; i < count; i++) {
        float keep = param[i];
        param[i] = keep + eps; float up = forward();
        param[i] = keep - eps; float down = forward();
        param[i] = keep;
        fprintf(f, "%s %.9g %.9g\n", name, grad[i], (up - down) / (2 * eps));
    }
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s OUTDIR [bug | --fd]\n", argv[0]); return 2; }
    dir = argv[1];
    const char *bug = argc > 2 ? argv[2] : "";
    for (int j = 0; j < NH; j++) { for (int i = 0; i < NI; i++) W0[j][i] = (frand() - 0.5f) * 1.2f; b0[j] = 0.1f * frand(); }
    for (int k = 0; k < NO; k++) { for (int j = 0; j < NH; j++) W1[k][j] = (frand() - 0.5f) * 1.6f; b1[k] = 0.0f; }
    for (int n = 0; n < B; n++) {
        for (int i = 0; i < NI; i++) X[n][i] = frand() * 2.0f - 1.0f;
        for (int k = 0; k < NO; k++) T[n][k] = frand();
    }
    forward();
    backward(bug);

    if (strcmp(bug, "--fd") == 0) {
        FILE *f = open_file("fd.txt");
        fd_check(f, "dW0", &W0[0][0], &dW0[0][0], NH * NI);
        fd_check(f, "db0", b0, db0, NH);
        fd_check(f, "dW1", &W1[0][0], &dW1[0][0], NO * NH);
        fd_check(f, "db1", b1, db1, NO);
        fclose(f);
        return 0;
    }
    save("x.txt", &X[0][0], B, NI);
    save("t.txt", &T[0][0], B, NO);
    save("W0.txt", &W0[0][0], NH, NI);
    save("b0.txt", b0, 1, NH);
    save("W1.txt", &W1[0][0], NO, NH);
    save("b1.txt", b1, 1, NO);
    save("z0.txt", &Z0[0][0], B, NH);
    save("a0.txt", &A0[0][0], B, NH);
    save("a1.txt", &A1[0][0], B, NO);
    save("delta0.txt", &D0[0][0], B, NH);
    save("delta1.txt", &D1[0][0], B, NO);
    save("dW0.txt", &dW0[0][0], NH, NI);
    save("db0.txt", db0, 1, NH);
    if (strcmp(bug, "dW1_in_out") == 0) save("dW1.txt", &dW1_io[0][0], NH, NO); /* indices swapped */
    else save("dW1.txt", &dW1[0][0], NO, NH);
    save("db1.txt", db1, 1, NO);
    FILE *f = open_file("network.json");
    fprintf(f, "{\"sizes\": [%d, %d, %d], \"activations\": [\"relu\", \"sigmoid\"], \"loss\": \"mse\", \"lr\": %g}\n",
            NI, NH, NO, 0.1);
    fclose(f);
    return 0;
}
