/* A C port of the Octave/Matlab course style: the bias is an extra weight column fed a constant 1.
 * Habits imitated: Theta[l] is out x (in + 1) with the bias in column 0, every layer's input gets a 1
 * prepended (a = [1, x]), sigmoid hidden and sigmoid output, squared error 1/2 ||y - t||^2 SUMMED over the
 * batch, delta_out = (y - t) y (1 - y) per sample, the hidden delta through Theta without its bias column,
 * Theta_grad += delta a^T (the bias column included), Theta -= lr * Theta_grad. A 48-bit LCG (drand48-like)
 * gives the weights. The tensors go to .csv files written with fprintf(f, "%.12e,", v): a trailing comma on
 * every line; x is written as the data (without the ones), Theta with its bias column; network.json says
 * "bias": "first".
 * usage: c_bias_inside OUTDIR [bug | --fd]    bugs: off_by_one_bias deriv_at_output t_minus_y */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M 5
#define N0 3
#define N1 5
#define N2 2

static unsigned long long s48 = 0x1234ABCD330EULL;
static double rand48(void) {
    s48 = (0x5DEECE66DULL * s48 + 0xB) & 0xFFFFFFFFFFFFULL;
    return (double)s48 / 281474976710656.0;
}

static double X[M][N0], Y[M][N2];
static double Theta1[N1][N0 + 1], Theta2[N2][N1 + 1], Theta1_grad[N1][N0 + 1], Theta2_grad[N2][N1 + 1];
static double A2[M][N1], A3[M][N2], D2[M][N1], D3[M][N2];

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

static double cost(void) {
    double J = 0;
    for (int m = 0; m < M; m++) {
        double a1[N0 + 1] = {1}, a2[N1 + 1] = {1};
        for (int i = 0; i < N0; i++) a1[i + 1] = X[m][i];
        for (int j = 0; j < N1; j++) {
            double z = 0;
            for (int i = 0; i <= N0; i++) z += Theta1[j][i] * a1[i];
            A2[m][j] = a2[j + 1] = sigmoid(z);
        }
        for (int k = 0; k < N2; k++) {
            double z = 0;
            for (int j = 0; j <= N1; j++) z += Theta2[k][j] * a2[j];
            A3[m][k] = sigmoid(z);
            J += 0.5 * (A3[m][k] - Y[m][k]) * (A3[m][k] - Y[m][k]);
        }
    }
    return J;
}

static void backprop(const char *bug) {
    int at_output = strcmp(bug, "deriv_at_output") == 0;
    memset(Theta1_grad, 0, sizeof Theta1_grad);
    memset(Theta2_grad, 0, sizeof Theta2_grad);
    cost();
    for (int m = 0; m < M; m++) {
        for (int k = 0; k < N2; k++) {
            double a = A3[m][k], slope = at_output ? sigmoid(a) * (1 - sigmoid(a)) : a * (1 - a);
            D3[m][k] = (strcmp(bug, "t_minus_y") == 0 ? Y[m][k] - a : a - Y[m][k]) * slope;
        }
        for (int j = 0; j < N1; j++) {
            double e = 0, a = A2[m][j], slope = at_output ? sigmoid(a) * (1 - sigmoid(a)) : a * (1 - a);
            int col = strcmp(bug, "off_by_one_bias") == 0 ? j : j + 1;  /* column 0 is the bias */
            for (int k = 0; k < N2; k++) e += Theta2[k][col] * D3[m][k];
            D2[m][j] = e * slope;
        }
        for (int k = 0; k < N2; k++) {
            Theta2_grad[k][0] += D3[m][k];
            for (int j = 0; j < N1; j++) Theta2_grad[k][j + 1] += D3[m][k] * A2[m][j];
        }
        for (int j = 0; j < N1; j++) {
            Theta1_grad[j][0] += D2[m][j];
            for (int i = 0; i < N0; i++) Theta1_grad[j][i + 1] += D2[m][j] * X[m][i];
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
static void csv(const char *name, const double *m, int rows, int cols) {
    FILE *f = open_file(name);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) fprintf(f, "%.12e,", m[r * cols + c]);
        fprintf(f, "\n");
    }
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s OUTDIR [bug | --fd]\n", argv[0]); return 2; }
    dir = argv[1];
    const char *bug = argc > 2 ? argv[2] : "";
    const double lr = 0.8, eps_init = 0.9;
    for (int j = 0; j < N1; j++) for (int i = 0; i <= N0; i++) Theta1[j][i] = rand48() * 2 * eps_init - eps_init;
    for (int k = 0; k < N2; k++) for (int j = 0; j <= N1; j++) Theta2[k][j] = rand48() * 2 * eps_init - eps_init;
    for (int m = 0; m < M; m++) {
        for (int i = 0; i < N0; i++) X[m][i] = rand48() * 2 - 1;
        for (int k = 0; k < N2; k++) Y[m][k] = 0.2 + 0.6 * rand48();
    }
    backprop(bug);

    if (strcmp(bug, "--fd") == 0) {
        FILE *f = open_file("fd.txt");
        double *params[2] = {&Theta1[0][0], &Theta2[0][0]}, *grads[2] = {&Theta1_grad[0][0], &Theta2_grad[0][0]};
        int counts[2] = {N1 * (N0 + 1), N2 * (N1 + 1)};
        for (int l = 0; l < 2; l++)
            for (int i = 0; i < counts[l]; i++) {
                double keep = params[l][i], eps = 1e-6;
                params[l][i] = keep + eps; double up = cost();
                params[l][i] = keep - eps; double down = cost();
                params[l][i] = keep;
                fprintf(f, "dW%d %.17g %.17g\n", l, grads[l][i], (up - down) / (2 * eps));
            }
        fclose(f);
        return 0;
    }
    csv("x.csv", &X[0][0], M, N0);
    csv("t.csv", &Y[0][0], M, N2);
    csv("W0.csv", &Theta1[0][0], N1, N0 + 1);
    csv("W1.csv", &Theta2[0][0], N2, N1 + 1);
    csv("a0.csv", &A2[0][0], M, N1);
    csv("a1.csv", &A3[0][0], M, N2);
    csv("delta0.csv", &D2[0][0], M, N1);
    csv("delta1.csv", &D3[0][0], M, N2);
    csv("dW0.csv", &Theta1_grad[0][0], N1, N0 + 1);
    csv("dW1.csv", &Theta2_grad[0][0], N2, N1 + 1);
    for (int j = 0; j < N1; j++) for (int i = 0; i <= N0; i++) Theta1[j][i] -= lr * Theta1_grad[j][i];
    for (int k = 0; k < N2; k++) for (int j = 0; j <= N1; j++) Theta2[k][j] -= lr * Theta2_grad[k][j];
    csv("W0.after.csv", &Theta1[0][0], N1, N0 + 1);
    csv("W1.after.csv", &Theta2[0][0], N2, N1 + 1);
    FILE *f = open_file("network.json");
    fprintf(f, "{\"sizes\": [%d, %d, %d], \"activations\": [\"sigmoid\", \"sigmoid\"], \"loss\": \"mse\", "
               "\"lr\": %g, \"bias\": \"first\"}\n", N0, N1, N2, lr);
    fclose(f);
    return 0;
}
