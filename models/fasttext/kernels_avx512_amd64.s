//go:build !purego

#include "textflag.h"

// AVX-512 F versions of the kernels in kernels_amd64.s: sixteen lanes, and
// tails under a lane mask instead of scalar loops. Only the F subset is
// used (integer logic instead of the DQ float logic), and VZEROUPPER ends
// every function as in the AVX2 file.

// TAILMASK sets K to the low R lanes (R in 0..15, in CX, which it keeps).
#define TAILMASK(K) \
	MOVL  $1, AX; \
	SHLL  CX, AX; \
	DECL  AX; \
	KMOVW AX, K

// func dotAVX512(a, b []float32) float32
TEXT ·dotAVX512(SB), NOSPLIT, $0-52
	MOVQ   a_base+0(FP), SI
	MOVQ   a_len+8(FP), CX
	MOVQ   b_base+24(FP), DI
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

dot64:
	CMPQ        CX, $64
	JL          dot16
	VMOVUPS     (SI), Z4
	VMOVUPS     64(SI), Z5
	VMOVUPS     128(SI), Z6
	VMOVUPS     192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ        $256, SI
	ADDQ        $256, DI
	SUBQ        $64, CX
	JMP         dot64

dot16:
	CMPQ        CX, $16
	JL          dottail
	VMOVUPS     (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         dot16

dottail:
	TESTQ       CX, CX
	JE          dotreduce
	TAILMASK(K1)
	VMOVUPS.Z   (SI), K1, Z4
	VMOVUPS.Z   (DI), K1, Z5
	VFMADD231PS Z5, Z4, Z1

dotreduce:
	VADDPS        Z1, Z0, Z0
	VADDPS        Z3, Z2, Z2
	VADDPS        Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	VZEROUPPER
	MOVSS         X0, ret+48(FP)
	RET

// func rowUpdateAVX512(alpha float32, w, grad, hidden []float32)
// grad += alpha*w; w += alpha*hidden (grad sees the old w).
TEXT ·rowUpdateAVX512(SB), NOSPLIT, $0-80
	VBROADCASTSS alpha+0(FP), Z0
	MOVQ         w_base+8(FP), SI
	MOVQ         w_len+16(FP), CX
	MOVQ         grad_base+32(FP), DI
	MOVQ         hidden_base+56(FP), DX

ru16:
	CMPQ        CX, $16
	JL          rutail
	VMOVUPS     (SI), Z1
	VMOVUPS     (DI), Z2
	VFMADD231PS Z1, Z0, Z2
	VFMADD231PS (DX), Z0, Z1
	VMOVUPS     Z2, (DI)
	VMOVUPS     Z1, (SI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	ADDQ        $64, DX
	SUBQ        $16, CX
	JMP         ru16

rutail:
	TESTQ       CX, CX
	JE          rudone
	TAILMASK(K1)
	VMOVUPS.Z   (SI), K1, Z1
	VMOVUPS.Z   (DI), K1, Z2
	VMOVUPS.Z   (DX), K1, Z3
	VFMADD231PS Z1, Z0, Z2
	VFMADD231PS Z3, Z0, Z1
	VMOVUPS     Z2, K1, (DI)
	VMOVUPS     Z1, K1, (SI)

rudone:
	VZEROUPPER
	RET

// func dotRowsAVX512(mat, x, out []float32)
// out[i] = mat[i*n : (i+1)*n]·x with n = len(x), a positive multiple of
// 16: four rows at a time, two accumulators each.
TEXT ·dotRowsAVX512(SB), NOSPLIT, $0-72
	MOVQ mat_base+0(FP), SI
	MOVQ x_base+24(FP), DI
	MOVQ x_len+32(FP), R8
	MOVQ out_base+48(FP), DX
	MOVQ out_len+56(FP), BX
	SHLQ $2, R8              // row bytes
	MOVQ R8, R12
	ANDQ $-128, R12          // bytes in pairs of 16-lane blocks

dr4:
	CMPQ   BX, $4
	JL     dr1
	LEAQ   (SI)(R8*1), R9
	LEAQ   (R9)(R8*1), R10
	LEAQ   (R10)(R8*1), R11
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	XORQ   AX, AX

dr4col:
	CMPQ        AX, R12
	JGE         dr4last
	VMOVUPS     (DI)(AX*1), Z8
	VMOVUPS     64(DI)(AX*1), Z9
	VFMADD231PS (SI)(AX*1), Z8, Z0
	VFMADD231PS 64(SI)(AX*1), Z9, Z1
	VFMADD231PS (R9)(AX*1), Z8, Z2
	VFMADD231PS 64(R9)(AX*1), Z9, Z3
	VFMADD231PS (R10)(AX*1), Z8, Z4
	VFMADD231PS 64(R10)(AX*1), Z9, Z5
	VFMADD231PS (R11)(AX*1), Z8, Z6
	VFMADD231PS 64(R11)(AX*1), Z9, Z7
	ADDQ        $128, AX
	JMP         dr4col

dr4last:
	CMPQ        AX, R8
	JGE         dr4reduce
	VMOVUPS     (DI)(AX*1), Z8
	VFMADD231PS (SI)(AX*1), Z8, Z0
	VFMADD231PS (R9)(AX*1), Z8, Z2
	VFMADD231PS (R10)(AX*1), Z8, Z4
	VFMADD231PS (R11)(AX*1), Z8, Z6

dr4reduce:
	VADDPS        Z1, Z0, Z0
	VADDPS        Z3, Z2, Z2
	VADDPS        Z5, Z4, Z4
	VADDPS        Z7, Z6, Z6
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF64X4 $1, Z2, Y3
	VADDPS        Y3, Y2, Y2
	VEXTRACTF64X4 $1, Z4, Y5
	VADDPS        Y5, Y4, Y4
	VEXTRACTF64X4 $1, Z6, Y7
	VADDPS        Y7, Y6, Y6
	VHADDPS       Y2, Y0, Y0
	VHADDPS       Y6, Y4, Y4
	VHADDPS       Y4, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VMOVUPS       X0, (DX)
	ADDQ          $16, DX
	LEAQ          (R11)(R8*1), SI
	SUBQ          $4, BX
	JMP           dr4

dr1:
	TESTQ  BX, BX
	JE     drdone
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	XORQ   AX, AX

dr1col:
	CMPQ        AX, R12
	JGE         dr1last
	VMOVUPS     (SI)(AX*1), Z8
	VMOVUPS     64(SI)(AX*1), Z9
	VFMADD231PS (DI)(AX*1), Z8, Z0
	VFMADD231PS 64(DI)(AX*1), Z9, Z1
	ADDQ        $128, AX
	JMP         dr1col

dr1last:
	CMPQ        AX, R8
	JGE         dr1reduce
	VMOVUPS     (SI)(AX*1), Z8
	VFMADD231PS (DI)(AX*1), Z8, Z0

dr1reduce:
	VADDPS        Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	VMOVSS        X0, (DX)
	ADDQ          $4, DX
	ADDQ          R8, SI
	DECQ          BX
	JMP           dr1

drdone:
	VZEROUPPER
	RET

// RUROW updates one row at R (alpha in A, gradient accumulators G0..G3)
// over the 64 columns of the block: G += A*row; row += A*hidden.
#define RUROW4(R, A, G0, G1, G2, G3) \
	VMOVUPS     (R), Z14; \
	VFMADD231PS Z14, A, G0; \
	VFMADD231PS Z8, A, Z14; \
	VMOVUPS     Z14, (R); \
	VMOVUPS     64(R), Z15; \
	VFMADD231PS Z15, A, G1; \
	VFMADD231PS Z9, A, Z15; \
	VMOVUPS     Z15, 64(R); \
	VMOVUPS     128(R), Z16; \
	VFMADD231PS Z16, A, G2; \
	VFMADD231PS Z10, A, Z16; \
	VMOVUPS     Z16, 128(R); \
	VMOVUPS     192(R), Z17; \
	VFMADD231PS Z17, A, G3; \
	VFMADD231PS Z11, A, Z17; \
	VMOVUPS     Z17, 192(R)

// RUROW1 is RUROW4 for a block of 16 columns.
#define RUROW1(R, A, G0) \
	VMOVUPS     (R), Z14; \
	VFMADD231PS Z14, A, G0; \
	VFMADD231PS Z8, A, Z14; \
	VMOVUPS     Z14, (R)

// func rowsUpdateAVX512(mat, alpha, hidden, grad []float32)
// For each row i < len(alpha) of mat (rows of n = len(hidden) values, a
// positive multiple of 16): grad += alpha[i]*row; row += alpha[i]*hidden.
// Columns are taken 64 (then 16) at a time with the block's gradient and
// hidden values in registers, rows two at a time with their own gradient
// accumulators.
TEXT ·rowsUpdateAVX512(SB), NOSPLIT, $0-96
	MOVQ  mat_base+0(FP), SI
	MOVQ  alpha_base+24(FP), R12
	MOVQ  alpha_len+32(FP), BX
	MOVQ  hidden_base+48(FP), DI
	MOVQ  hidden_len+56(FP), R8
	MOVQ  grad_base+72(FP), DX
	SHLQ  $2, R8             // row bytes
	TESTQ BX, BX
	JE    rudone
	XORQ  R13, R13           // column offset in bytes

rucol64:
	MOVQ    R8, AX
	SUBQ    R13, AX
	CMPQ    AX, $256
	JL      rucol16
	VMOVUPS (DX)(R13*1), Z0
	VMOVUPS 64(DX)(R13*1), Z1
	VMOVUPS 128(DX)(R13*1), Z2
	VMOVUPS 192(DX)(R13*1), Z3
	VPXORD  Z4, Z4, Z4
	VPXORD  Z5, Z5, Z5
	VPXORD  Z6, Z6, Z6
	VPXORD  Z7, Z7, Z7
	VMOVUPS (DI)(R13*1), Z8
	VMOVUPS 64(DI)(R13*1), Z9
	VMOVUPS 128(DI)(R13*1), Z10
	VMOVUPS 192(DI)(R13*1), Z11
	LEAQ    (SI)(R13*1), R9
	MOVQ    R12, R10
	MOVQ    BX, CX

ru64pair:
	CMPQ         CX, $2
	JL           ru64one
	VBROADCASTSS (R10), Z12
	VBROADCASTSS 4(R10), Z13
	LEAQ         (R9)(R8*1), R11
	RUROW4(R9, Z12, Z0, Z1, Z2, Z3)
	RUROW4(R11, Z13, Z4, Z5, Z6, Z7)
	LEAQ         (R11)(R8*1), R9
	ADDQ         $8, R10
	SUBQ         $2, CX
	JMP          ru64pair

ru64one:
	TESTQ        CX, CX
	JE           ru64store
	VBROADCASTSS (R10), Z12
	RUROW4(R9, Z12, Z0, Z1, Z2, Z3)

ru64store:
	VADDPS  Z4, Z0, Z0
	VADDPS  Z5, Z1, Z1
	VADDPS  Z6, Z2, Z2
	VADDPS  Z7, Z3, Z3
	VMOVUPS Z0, (DX)(R13*1)
	VMOVUPS Z1, 64(DX)(R13*1)
	VMOVUPS Z2, 128(DX)(R13*1)
	VMOVUPS Z3, 192(DX)(R13*1)
	ADDQ    $256, R13
	JMP     rucol64

rucol16:
	CMPQ    R13, R8
	JGE     rudone
	VMOVUPS (DX)(R13*1), Z0
	VPXORD  Z4, Z4, Z4
	VMOVUPS (DI)(R13*1), Z8
	LEAQ    (SI)(R13*1), R9
	MOVQ    R12, R10
	MOVQ    BX, CX

ru16pair:
	CMPQ         CX, $2
	JL           ru16one
	VBROADCASTSS (R10), Z12
	VBROADCASTSS 4(R10), Z13
	LEAQ         (R9)(R8*1), R11
	RUROW1(R9, Z12, Z0)
	RUROW1(R11, Z13, Z4)
	LEAQ         (R11)(R8*1), R9
	ADDQ         $8, R10
	SUBQ         $2, CX
	JMP          ru16pair

ru16one:
	TESTQ        CX, CX
	JE           ru16store
	VBROADCASTSS (R10), Z12
	RUROW1(R9, Z12, Z0)

ru16store:
	VADDPS  Z4, Z0, Z0
	VMOVUPS Z0, (DX)(R13*1)
	ADDQ    $64, R13
	JMP     rucol16

rudone:
	VZEROUPPER
	RET

// EXPSTEP computes exp(V - Z0) for the lanes of V into V, NaN lanes staying
// NaN and lanes below expLowest (or outside the write mask KM) becoming 0.
// Z8..Z13 hold lowest, log2e, shift, ln2 high, ln2 low and one, Z14..Z19
// the polynomial; T2..T4 are scratch and K2 is clobbered.
#define EXPSTEP(V, KM, T2, T3, T4) \
	VSUBPS       Z0, V, V; \
	VCMPPS       $5, Z8, V, KM, K2; \
	VMAXPS       V, Z8, V; \
	VMOVAPS      Z10, T2; \
	VFMADD231PS  Z9, V, T2; \
	VSUBPS       Z10, T2, T3; \
	VFNMADD231PS Z11, T3, V; \
	VFNMADD231PS Z12, T3, V; \
	VMOVAPS      Z14, T3; \
	VFMADD213PS  Z15, V, T3; \
	VFMADD213PS  Z16, V, T3; \
	VFMADD213PS  Z17, V, T3; \
	VFMADD213PS  Z18, V, T3; \
	VFMADD213PS  Z19, V, T3; \
	VMULPS       V, V, T4; \
	VFMADD213PS  V, T4, T3; \
	VADDPS       Z13, T3, T3; \
	VPSLLD       $23, T2, T2; \
	VPADDD       Z13, T2, T2; \
	VMULPS.Z     T2, T3, K2, V

// func expShiftSumAVX512(x []float32) float32
// x[i] = exp(x[i] - max(x)); returns the sum.
TEXT ·expShiftSumAVX512(SB), NOSPLIT, $0-28
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	VXORPS X1, X1, X1
	TESTQ  CX, CX
	JE     esdone
	MOVQ   CX, BX
	ANDQ   $-16, BX
	SHLQ   $2, BX            // bytes in whole vectors
	ANDQ   $15, CX           // lanes in the tail
	TAILMASK(K1)
	MOVL   $0xffff, AX
	KMOVW  AX, K3

	// The maximum, NaN aside (a NaN shows in its own lane below).
	VBROADCASTSS ·expConsts+384(SB), Z0
	VMOVAPS      Z0, Z20
	XORQ         AX, AX

esmax:
	CMPQ   AX, BX
	JGE    esmaxtail
	VMAXPS (SI)(AX*1), Z0, Z0
	ADDQ   $64, AX
	JMP    esmax

esmaxtail:
	TESTQ   CX, CX
	JE      esmaxreduce
	VMOVUPS (SI)(AX*1), K1, Z20
	VMAXPS  Z20, Z0, Z0

esmaxreduce:
	VEXTRACTF64X4 $1, Z0, Y2
	VMAXPS        Y2, Y0, Y0
	VEXTRACTF128  $1, Y0, X2
	VMAXPS        X2, X0, X0
	VPERMILPS     $0x4e, X0, X2
	VMAXPS        X2, X0, X0
	VPERMILPS     $0xb1, X0, X2
	VMAXPS        X2, X0, X0
	VBROADCASTSS  X0, Z0

	VBROADCASTSS ·expConsts+0(SB), Z8
	VBROADCASTSS ·expConsts+32(SB), Z9
	VBROADCASTSS ·expConsts+64(SB), Z10
	VBROADCASTSS ·expConsts+96(SB), Z11
	VBROADCASTSS ·expConsts+128(SB), Z12
	VBROADCASTSS ·expConsts+352(SB), Z13
	VBROADCASTSS ·expConsts+160(SB), Z14
	VBROADCASTSS ·expConsts+192(SB), Z15
	VBROADCASTSS ·expConsts+224(SB), Z16
	VBROADCASTSS ·expConsts+256(SB), Z17
	VBROADCASTSS ·expConsts+288(SB), Z18
	VBROADCASTSS ·expConsts+320(SB), Z19
	VPXORD       Z1, Z1, Z1
	XORQ         AX, AX

esexp:
	CMPQ    AX, BX
	JGE     esexptail
	VMOVUPS (SI)(AX*1), Z2
	EXPSTEP(Z2, K3, Z3, Z4, Z5)
	VMOVUPS Z2, (SI)(AX*1)
	VADDPS  Z2, Z1, Z1
	ADDQ    $64, AX
	JMP     esexp

esexptail:
	TESTQ     CX, CX
	JE        esreduce
	VMOVUPS.Z (SI)(AX*1), K1, Z2
	EXPSTEP(Z2, K1, Z3, Z4, Z5)
	VMOVUPS   Z2, K1, (SI)(AX*1)
	VADDPS    Z2, Z1, Z1

esreduce:
	VEXTRACTF64X4 $1, Z1, Y2
	VADDPS        Y2, Y1, Y1
	VEXTRACTF128  $1, Y1, X2
	VADDPS        X2, X1, X1
	VHADDPS       X1, X1, X1
	VHADDPS       X1, X1, X1

esdone:
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET
