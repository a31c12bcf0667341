//go:build !purego

#include "textflag.h"

// func dotAVX2(a, b []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ   a_base+0(FP), SI
	MOVQ   a_len+8(FP), CX
	MOVQ   b_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dot32:
	CMPQ        CX, $32
	JL          dot8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         dot32

dot8:
	CMPQ        CX, $8
	JL          dotreduce
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         dot8

dotreduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0

dot1:
	CMPQ        CX, $0
	JE          dotdone
	VMOVSS      (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         dot1

dotdone:
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// func rowUpdateAVX2(alpha float32, w, grad, hidden []float32)
// grad += alpha*w; w += alpha*hidden (grad sees the old w).
TEXT ·rowUpdateAVX2(SB), NOSPLIT, $0-80
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ         w_base+8(FP), SI
	MOVQ         w_len+16(FP), CX
	MOVQ         grad_base+32(FP), DI
	MOVQ         hidden_base+56(FP), DX

ru8:
	CMPQ        CX, $8
	JL          ru1
	VMOVUPS     (SI), Y1
	VMOVUPS     (DI), Y2
	VFMADD231PS Y1, Y0, Y2
	VFMADD231PS (DX), Y0, Y1
	VMOVUPS     Y2, (DI)
	VMOVUPS     Y1, (SI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, DX
	SUBQ        $8, CX
	JMP         ru8

ru1:
	CMPQ        CX, $0
	JE          rudone
	VMOVSS      (SI), X1
	VMOVSS      (DI), X2
	VFMADD231SS X1, X0, X2
	VFMADD231SS (DX), X0, X1
	VMOVSS      X2, (DI)
	VMOVSS      X1, (SI)
	ADDQ        $4, SI
	ADDQ        $4, DI
	ADDQ        $4, DX
	DECQ        CX
	JMP         ru1

rudone:
	VZEROUPPER
	RET

// func gatherAddAVX2(dst []float32, mat []float32, ids []int32, dim int)
// dst[:dim] += mat[id*dim : id*dim+dim] for each id in ids, in order,
// prefetching the row eight ids ahead.
TEXT ·gatherAddAVX2(SB), NOSPLIT, $0-80
	MOVQ dst_base+0(FP), DI
	MOVQ mat_base+24(FP), SI
	MOVQ ids_base+48(FP), R8
	MOVQ ids_len+56(FP), R9
	MOVQ dim+72(FP), R10
	MOVQ R10, R11
	SHLQ $2, R11             // row bytes
	XORQ R12, R12            // i

garow:
	CMPQ R12, R9
	JGE  gadone

	// prefetch row ids[i+4]
	LEAQ 8(R12), AX
	CMPQ AX, R9
	JGE  ganopf
	MOVLQSX (R8)(AX*4), AX
	IMULQ   R11, AX
	LEAQ    (SI)(AX*1), AX
	XORQ    BX, BX
gapf:
	PREFETCHT0 (AX)(BX*1)
	ADDQ       $64, BX
	CMPQ       BX, R11
	JL         gapf

ganopf:
	MOVLQSX (R8)(R12*4), AX
	IMULQ   R11, AX
	LEAQ    (SI)(AX*1), DX   // row pointer
	MOVQ    DI, BX           // dst pointer
	MOVQ    R10, CX

ga8:
	CMPQ    CX, $8
	JL      ga1
	VMOVUPS (BX), Y0
	VADDPS  (DX), Y0, Y0
	VMOVUPS Y0, (BX)
	ADDQ    $32, BX
	ADDQ    $32, DX
	SUBQ    $8, CX
	JMP     ga8

ga1:
	CMPQ   CX, $0
	JE     ganext
	VMOVSS (BX), X0
	VADDSS (DX), X0, X0
	VMOVSS X0, (BX)
	ADDQ   $4, BX
	ADDQ   $4, DX
	DECQ   CX
	JMP    ga1

ganext:
	INCQ R12
	JMP  garow

gadone:
	VZEROUPPER
	RET

// func scatterAddAVX2(src []float32, mat []float32, ids []int32, dim int)
// mat[id*dim : id*dim+dim] += src[:dim] for each id in ids, in order,
// prefetching the row eight ids ahead.
TEXT ·scatterAddAVX2(SB), NOSPLIT, $0-80
	MOVQ src_base+0(FP), DI
	MOVQ mat_base+24(FP), SI
	MOVQ ids_base+48(FP), R8
	MOVQ ids_len+56(FP), R9
	MOVQ dim+72(FP), R10
	MOVQ R10, R11
	SHLQ $2, R11
	XORQ R12, R12

sarow:
	CMPQ R12, R9
	JGE  sadone
	LEAQ 8(R12), AX
	CMPQ AX, R9
	JGE  sanopf
	MOVLQSX (R8)(AX*4), AX
	IMULQ   R11, AX
	LEAQ    (SI)(AX*1), AX
	XORQ    BX, BX
sapf:
	PREFETCHT0 (AX)(BX*1)
	ADDQ       $64, BX
	CMPQ       BX, R11
	JL         sapf

sanopf:
	MOVLQSX (R8)(R12*4), AX
	IMULQ   R11, AX
	LEAQ    (SI)(AX*1), DX   // row pointer
	MOVQ    DI, BX           // src pointer
	MOVQ    R10, CX

sa8:
	CMPQ    CX, $8
	JL      sa1
	VMOVUPS (DX), Y0
	VADDPS  (BX), Y0, Y0
	VMOVUPS Y0, (DX)
	ADDQ    $32, BX
	ADDQ    $32, DX
	SUBQ    $8, CX
	JMP     sa8

sa1:
	CMPQ   CX, $0
	JE     sanext
	VMOVSS (DX), X0
	VADDSS (BX), X0, X0
	VMOVSS X0, (DX)
	ADDQ   $4, BX
	ADDQ   $4, DX
	DECQ   CX
	JMP    sa1

sanext:
	INCQ R12
	JMP  sarow

sadone:
	VZEROUPPER
	RET
// Constants of the vectorised exponential (see expNonPositive), each
// repeated eight times to serve as a 256-bit operand, and the tail masks
// (eight set lanes, then eight clear ones).
// expc+0: lowest
DATA ·expConsts+0(SB)/8, $0xc2aeac4fc2aeac4f
DATA ·expConsts+8(SB)/8, $0xc2aeac4fc2aeac4f
DATA ·expConsts+16(SB)/8, $0xc2aeac4fc2aeac4f
DATA ·expConsts+24(SB)/8, $0xc2aeac4fc2aeac4f
// expc+32: log2e
DATA ·expConsts+32(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA ·expConsts+40(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA ·expConsts+48(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA ·expConsts+56(SB)/8, $0x3fb8aa3b3fb8aa3b
// expc+64: shift
DATA ·expConsts+64(SB)/8, $0x4b4000004b400000
DATA ·expConsts+72(SB)/8, $0x4b4000004b400000
DATA ·expConsts+80(SB)/8, $0x4b4000004b400000
DATA ·expConsts+88(SB)/8, $0x4b4000004b400000
// expc+96: ln2hi
DATA ·expConsts+96(SB)/8, $0x3f3180003f318000
DATA ·expConsts+104(SB)/8, $0x3f3180003f318000
DATA ·expConsts+112(SB)/8, $0x3f3180003f318000
DATA ·expConsts+120(SB)/8, $0x3f3180003f318000
// expc+128: ln2lo
DATA ·expConsts+128(SB)/8, $0xb95e8083b95e8083
DATA ·expConsts+136(SB)/8, $0xb95e8083b95e8083
DATA ·expConsts+144(SB)/8, $0xb95e8083b95e8083
DATA ·expConsts+152(SB)/8, $0xb95e8083b95e8083
// expc+160: p0
DATA ·expConsts+160(SB)/8, $0x3950696739506967
DATA ·expConsts+168(SB)/8, $0x3950696739506967
DATA ·expConsts+176(SB)/8, $0x3950696739506967
DATA ·expConsts+184(SB)/8, $0x3950696739506967
// expc+192: p1
DATA ·expConsts+192(SB)/8, $0x3ab743ce3ab743ce
DATA ·expConsts+200(SB)/8, $0x3ab743ce3ab743ce
DATA ·expConsts+208(SB)/8, $0x3ab743ce3ab743ce
DATA ·expConsts+216(SB)/8, $0x3ab743ce3ab743ce
// expc+224: p2
DATA ·expConsts+224(SB)/8, $0x3c0889083c088908
DATA ·expConsts+232(SB)/8, $0x3c0889083c088908
DATA ·expConsts+240(SB)/8, $0x3c0889083c088908
DATA ·expConsts+248(SB)/8, $0x3c0889083c088908
// expc+256: p3
DATA ·expConsts+256(SB)/8, $0x3d2aa9c13d2aa9c1
DATA ·expConsts+264(SB)/8, $0x3d2aa9c13d2aa9c1
DATA ·expConsts+272(SB)/8, $0x3d2aa9c13d2aa9c1
DATA ·expConsts+280(SB)/8, $0x3d2aa9c13d2aa9c1
// expc+288: p4
DATA ·expConsts+288(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA ·expConsts+296(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA ·expConsts+304(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA ·expConsts+312(SB)/8, $0x3e2aaaaa3e2aaaaa
// expc+320: p5
DATA ·expConsts+320(SB)/8, $0x3f0000003f000000
DATA ·expConsts+328(SB)/8, $0x3f0000003f000000
DATA ·expConsts+336(SB)/8, $0x3f0000003f000000
DATA ·expConsts+344(SB)/8, $0x3f0000003f000000
// expc+352: one
DATA ·expConsts+352(SB)/8, $0x3f8000003f800000
DATA ·expConsts+360(SB)/8, $0x3f8000003f800000
DATA ·expConsts+368(SB)/8, $0x3f8000003f800000
DATA ·expConsts+376(SB)/8, $0x3f8000003f800000
// expc+384: neginf
DATA ·expConsts+384(SB)/8, $0xff800000ff800000
DATA ·expConsts+392(SB)/8, $0xff800000ff800000
DATA ·expConsts+400(SB)/8, $0xff800000ff800000
DATA ·expConsts+408(SB)/8, $0xff800000ff800000
GLOBL ·expConsts(SB), RODATA|NOPTR, $416

DATA ·tailMask+0(SB)/8, $0xffffffffffffffff
DATA ·tailMask+8(SB)/8, $0xffffffffffffffff
DATA ·tailMask+16(SB)/8, $0xffffffffffffffff
DATA ·tailMask+24(SB)/8, $0xffffffffffffffff
DATA ·tailMask+32(SB)/8, $0
DATA ·tailMask+40(SB)/8, $0
DATA ·tailMask+48(SB)/8, $0
DATA ·tailMask+56(SB)/8, $0
GLOBL ·tailMask(SB), RODATA|NOPTR, $64

// func dotRowsAVX2(mat, x, out []float32)
// out[i] = mat[i*n : (i+1)*n]·x with n = len(x), a positive multiple of
// 16: four rows at a time, two accumulators each, sharing the loads of x.
TEXT ·dotRowsAVX2(SB), NOSPLIT, $0-72
	MOVQ mat_base+0(FP), SI
	MOVQ x_base+24(FP), DI
	MOVQ x_len+32(FP), R8
	MOVQ out_base+48(FP), DX
	MOVQ out_len+56(FP), BX
	SHLQ $2, R8              // row bytes

dr4:
	CMPQ   BX, $4
	JL     dr1
	LEAQ   (SI)(R8*1), R9
	LEAQ   (R9)(R8*1), R10
	LEAQ   (R10)(R8*1), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ   AX, AX

dr4col:
	VMOVUPS     (DI)(AX*1), Y8
	VMOVUPS     32(DI)(AX*1), Y9
	VFMADD231PS (SI)(AX*1), Y8, Y0
	VFMADD231PS 32(SI)(AX*1), Y9, Y1
	VFMADD231PS (R9)(AX*1), Y8, Y2
	VFMADD231PS 32(R9)(AX*1), Y9, Y3
	VFMADD231PS (R10)(AX*1), Y8, Y4
	VFMADD231PS 32(R10)(AX*1), Y9, Y5
	VFMADD231PS (R11)(AX*1), Y8, Y6
	VFMADD231PS 32(R11)(AX*1), Y9, Y7
	ADDQ        $64, AX
	CMPQ        AX, R8
	JL          dr4col

	// Reduce the four rows' accumulators to four sums in X0.
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y5, Y4, Y4
	VADDPS       Y7, Y6, Y6
	VHADDPS      Y2, Y0, Y0
	VHADDPS      Y6, Y4, Y4
	VHADDPS      Y4, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVUPS      X0, (DX)
	ADDQ         $16, DX
	LEAQ         (R11)(R8*1), SI
	SUBQ         $4, BX
	JMP          dr4

dr1:
	TESTQ  BX, BX
	JE     drdone
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ   AX, AX

dr1col:
	VMOVUPS     (SI)(AX*1), Y8
	VMOVUPS     32(SI)(AX*1), Y9
	VFMADD231PS (DI)(AX*1), Y8, Y0
	VFMADD231PS 32(DI)(AX*1), Y9, Y1
	ADDQ        $64, AX
	CMPQ        AX, R8
	JL          dr1col
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, (DX)
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         BX
	JMP          dr1

drdone:
	VZEROUPPER
	RET

// func rowsUpdateAVX2(mat, alpha, hidden, grad []float32)
// For each row i < len(alpha) of mat (rows of n = len(hidden) values, a
// positive multiple of 16): grad += alpha[i]*row; row += alpha[i]*hidden.
// Columns are taken 32 (then 16) at a time with the gradient and hidden
// values of the block in registers, and the rows two at a time with their
// own gradient accumulators.
TEXT ·rowsUpdateAVX2(SB), NOSPLIT, $0-96
	MOVQ mat_base+0(FP), SI
	MOVQ alpha_base+24(FP), R12
	MOVQ alpha_len+32(FP), BX
	MOVQ hidden_base+48(FP), DI
	MOVQ hidden_len+56(FP), R8
	MOVQ grad_base+72(FP), DX
	SHLQ $2, R8              // row bytes
	TESTQ BX, BX
	JE    rudone
	XORQ  R13, R13           // column offset in bytes

rucol32:
	MOVQ    R8, AX
	SUBQ    R13, AX
	CMPQ    AX, $128
	JL      rucol16
	VMOVUPS (DX)(R13*1), Y0
	VMOVUPS 32(DX)(R13*1), Y1
	VMOVUPS 64(DX)(R13*1), Y2
	VMOVUPS 96(DX)(R13*1), Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	VMOVUPS (DI)(R13*1), Y8
	VMOVUPS 32(DI)(R13*1), Y9
	VMOVUPS 64(DI)(R13*1), Y10
	VMOVUPS 96(DI)(R13*1), Y11
	LEAQ    (SI)(R13*1), R9  // row pointer at the block
	MOVQ    R12, R10         // alpha pointer
	MOVQ    BX, CX           // rows left

ru32pair:
	CMPQ         CX, $2
	JL           ru32one
	VBROADCASTSS (R10), Y12
	VBROADCASTSS 4(R10), Y13
	LEAQ         (R9)(R8*1), R11
	VMOVUPS      (R9), Y14
	VFMADD231PS  Y14, Y12, Y0
	VFMADD231PS  Y8, Y12, Y14
	VMOVUPS      Y14, (R9)
	VMOVUPS      32(R9), Y15
	VFMADD231PS  Y15, Y12, Y1
	VFMADD231PS  Y9, Y12, Y15
	VMOVUPS      Y15, 32(R9)
	VMOVUPS      64(R9), Y14
	VFMADD231PS  Y14, Y12, Y2
	VFMADD231PS  Y10, Y12, Y14
	VMOVUPS      Y14, 64(R9)
	VMOVUPS      96(R9), Y15
	VFMADD231PS  Y15, Y12, Y3
	VFMADD231PS  Y11, Y12, Y15
	VMOVUPS      Y15, 96(R9)
	VMOVUPS      (R11), Y14
	VFMADD231PS  Y14, Y13, Y4
	VFMADD231PS  Y8, Y13, Y14
	VMOVUPS      Y14, (R11)
	VMOVUPS      32(R11), Y15
	VFMADD231PS  Y15, Y13, Y5
	VFMADD231PS  Y9, Y13, Y15
	VMOVUPS      Y15, 32(R11)
	VMOVUPS      64(R11), Y14
	VFMADD231PS  Y14, Y13, Y6
	VFMADD231PS  Y10, Y13, Y14
	VMOVUPS      Y14, 64(R11)
	VMOVUPS      96(R11), Y15
	VFMADD231PS  Y15, Y13, Y7
	VFMADD231PS  Y11, Y13, Y15
	VMOVUPS      Y15, 96(R11)
	LEAQ         (R11)(R8*1), R9
	ADDQ         $8, R10
	SUBQ         $2, CX
	JMP          ru32pair

ru32one:
	TESTQ        CX, CX
	JE           ru32store
	VBROADCASTSS (R10), Y12
	VMOVUPS      (R9), Y14
	VFMADD231PS  Y14, Y12, Y0
	VFMADD231PS  Y8, Y12, Y14
	VMOVUPS      Y14, (R9)
	VMOVUPS      32(R9), Y15
	VFMADD231PS  Y15, Y12, Y1
	VFMADD231PS  Y9, Y12, Y15
	VMOVUPS      Y15, 32(R9)
	VMOVUPS      64(R9), Y14
	VFMADD231PS  Y14, Y12, Y2
	VFMADD231PS  Y10, Y12, Y14
	VMOVUPS      Y14, 64(R9)
	VMOVUPS      96(R9), Y15
	VFMADD231PS  Y15, Y12, Y3
	VFMADD231PS  Y11, Y12, Y15
	VMOVUPS      Y15, 96(R9)

ru32store:
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VADDPS  Y6, Y2, Y2
	VADDPS  Y7, Y3, Y3
	VMOVUPS Y0, (DX)(R13*1)
	VMOVUPS Y1, 32(DX)(R13*1)
	VMOVUPS Y2, 64(DX)(R13*1)
	VMOVUPS Y3, 96(DX)(R13*1)
	ADDQ    $128, R13
	JMP     rucol32

rucol16:
	CMPQ    R13, R8
	JGE     rudone
	VMOVUPS (DX)(R13*1), Y0
	VMOVUPS 32(DX)(R13*1), Y1
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VMOVUPS (DI)(R13*1), Y8
	VMOVUPS 32(DI)(R13*1), Y9
	LEAQ    (SI)(R13*1), R9
	MOVQ    R12, R10
	MOVQ    BX, CX

ru16pair:
	CMPQ         CX, $2
	JL           ru16one
	VBROADCASTSS (R10), Y12
	VBROADCASTSS 4(R10), Y13
	LEAQ         (R9)(R8*1), R11
	VMOVUPS      (R9), Y14
	VFMADD231PS  Y14, Y12, Y0
	VFMADD231PS  Y8, Y12, Y14
	VMOVUPS      Y14, (R9)
	VMOVUPS      32(R9), Y15
	VFMADD231PS  Y15, Y12, Y1
	VFMADD231PS  Y9, Y12, Y15
	VMOVUPS      Y15, 32(R9)
	VMOVUPS      (R11), Y14
	VFMADD231PS  Y14, Y13, Y4
	VFMADD231PS  Y8, Y13, Y14
	VMOVUPS      Y14, (R11)
	VMOVUPS      32(R11), Y15
	VFMADD231PS  Y15, Y13, Y5
	VFMADD231PS  Y9, Y13, Y15
	VMOVUPS      Y15, 32(R11)
	LEAQ         (R11)(R8*1), R9
	ADDQ         $8, R10
	SUBQ         $2, CX
	JMP          ru16pair

ru16one:
	TESTQ        CX, CX
	JE           ru16store
	VBROADCASTSS (R10), Y12
	VMOVUPS      (R9), Y14
	VFMADD231PS  Y14, Y12, Y0
	VFMADD231PS  Y8, Y12, Y14
	VMOVUPS      Y14, (R9)
	VMOVUPS      32(R9), Y15
	VFMADD231PS  Y15, Y12, Y1
	VFMADD231PS  Y9, Y12, Y15
	VMOVUPS      Y15, 32(R9)

ru16store:
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VMOVUPS Y0, (DX)(R13*1)
	VMOVUPS Y1, 32(DX)(R13*1)
	ADDQ    $64, R13
	JMP     rucol16

rudone:
	VZEROUPPER
	RET

// EXPSTEP computes exp(V - Y0) for the eight lanes of V into V, NaN lanes
// staying NaN and lanes below expLowest becoming 0 (see expNonPositive).
// Y8..Y13 hold lowest, log2e, shift, ln2 high, ln2 low and one; T1..T4 are
// scratch.
#define EXPSTEP(V, T1, T2, T3, T4) \
	VSUBPS       Y0, V, V; \
	VCMPPS       $5, Y8, V, T1; \
	VMAXPS       V, Y8, V; \
	VMOVAPS      Y10, T2; \
	VFMADD231PS  Y9, V, T2; \
	VSUBPS       Y10, T2, T3; \
	VFNMADD231PS Y11, T3, V; \
	VFNMADD231PS Y12, T3, V; \
	VMOVUPS      ·expConsts+160(SB), T3; \
	VFMADD213PS  ·expConsts+192(SB), V, T3; \
	VFMADD213PS  ·expConsts+224(SB), V, T3; \
	VFMADD213PS  ·expConsts+256(SB), V, T3; \
	VFMADD213PS  ·expConsts+288(SB), V, T3; \
	VFMADD213PS  ·expConsts+320(SB), V, T3; \
	VMULPS       V, V, T4; \
	VFMADD213PS  V, T4, T3; \
	VADDPS       Y13, T3, T3; \
	VPSLLD       $23, T2, T2; \
	VPADDD       Y13, T2, T2; \
	VMULPS       T2, T3, V; \
	VANDPS       T1, V, V

// func expShiftSumAVX2(x []float32) float32
// x[i] = exp(x[i] - max(x)); returns the sum.
TEXT ·expShiftSumAVX2(SB), NOSPLIT, $0-28
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	VXORPS X1, X1, X1
	TESTQ  CX, CX
	JE     esdone
	MOVQ   CX, DX
	ANDQ   $7, DX            // lanes in the tail
	MOVQ   CX, BX
	ANDQ   $-8, BX
	SHLQ   $2, BX            // bytes in whole vectors
	MOVQ   $8, AX
	SUBQ   DX, AX
	LEAQ   ·tailMask(SB), R8
	VMOVUPS (R8)(AX*4), Y15  // the tail's lanes

	// The maximum, NaN aside (a NaN shows in its own lane below).
	VMOVUPS ·expConsts+384(SB), Y0
	XORQ    AX, AX

esmax:
	CMPQ   AX, BX
	JGE    esmaxtail
	VMAXPS (SI)(AX*1), Y0, Y0
	ADDQ   $32, AX
	JMP    esmax

esmaxtail:
	TESTQ      DX, DX
	JE         esmaxreduce
	VMASKMOVPS (SI)(AX*1), Y15, Y2
	VMOVUPS    ·expConsts+384(SB), Y3
	VBLENDVPS  Y15, Y2, Y3, Y2
	VMAXPS     Y2, Y0, Y0

esmaxreduce:
	VEXTRACTF128 $1, Y0, X2
	VMAXPS       X2, X0, X0
	VPERMILPS    $0x4e, X0, X2
	VMAXPS       X2, X0, X0
	VPERMILPS    $0xb1, X0, X2
	VMAXPS       X2, X0, X0
	VBROADCASTSS X0, Y0

	VMOVUPS ·expConsts+0(SB), Y8
	VMOVUPS ·expConsts+32(SB), Y9
	VMOVUPS ·expConsts+64(SB), Y10
	VMOVUPS ·expConsts+96(SB), Y11
	VMOVUPS ·expConsts+128(SB), Y12
	VMOVUPS ·expConsts+352(SB), Y13
	VXORPS  Y1, Y1, Y1
	XORQ    AX, AX

esexp:
	CMPQ    AX, BX
	JGE     esexptail
	VMOVUPS (SI)(AX*1), Y2
	EXPSTEP(Y2, Y3, Y4, Y5, Y6)
	VMOVUPS Y2, (SI)(AX*1)
	VADDPS  Y2, Y1, Y1
	ADDQ    $32, AX
	JMP     esexp

esexptail:
	TESTQ      DX, DX
	JE         esreduce
	VMASKMOVPS (SI)(AX*1), Y15, Y2
	EXPSTEP(Y2, Y3, Y4, Y5, Y6)
	VANDPS     Y15, Y2, Y2
	VMASKMOVPS Y2, Y15, (SI)(AX*1)
	VADDPS     Y2, Y1, Y1

esreduce:
	VEXTRACTF128 $1, Y1, X2
	VADDPS       X2, X1, X1
	VHADDPS      X1, X1, X1
	VHADDPS      X1, X1, X1

esdone:
	VZEROUPPER
	MOVSS X1, ret+24(FP)
	RET

// func pqAddGroupAVX2(x []float32, codes []uint8, nsubq int, centroids []float32, normCodes []uint8, normTab []float32, ids []int32)
// x[:8] += alpha(id) * (the four centroid pairs of id's codes), for each id
// in order; alpha is normTab[normCodes[id]], or 1 when normCodes is nil.
// Products are rounded before they are added (no fused multiply-add).
TEXT ·pqAddGroupAVX2(SB), NOSPLIT, $0-152
	MOVQ    x_base+0(FP), DI
	MOVQ    codes_base+24(FP), SI
	MOVQ    nsubq+48(FP), R8
	MOVQ    centroids_base+56(FP), R9
	MOVQ    normCodes_base+80(FP), R10
	MOVQ    normTab_base+104(FP), R12
	MOVQ    ids_base+128(FP), R13
	MOVQ    ids_len+136(FP), R14
	VMOVUPS (DI), Y0
	XORQ    CX, CX

pqid:
	CMPQ         CX, R14
	JGE          pqstore
	MOVLQSX      (R13)(CX*4), AX
	VBROADCASTSS ·expConsts+352(SB), Y1
	TESTQ        R10, R10
	JE           pqcodes
	MOVBLZX      (R10)(AX*1), DX
	VBROADCASTSS (R12)(DX*4), Y1

pqcodes:
	IMULQ       R8, AX
	MOVL        (SI)(AX*1), DX
	MOVBLZX     DX, AX
	VMOVSD      (R9)(AX*8), X2
	SHRL        $8, DX
	MOVBLZX     DX, AX
	VMOVHPS     2048(R9)(AX*8), X2, X2
	SHRL        $8, DX
	MOVBLZX     DX, AX
	VMOVSD      4096(R9)(AX*8), X3
	SHRL        $8, DX
	VMOVHPS     6144(R9)(DX*8), X3, X3
	VINSERTF128 $1, X3, Y2, Y2
	VMULPS      Y1, Y2, Y2
	VADDPS      Y2, Y0, Y0
	INCQ        CX
	JMP         pqid

pqstore:
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET

// func prefetchRowsAMD64(mat []float32, ids []int32, dim int)
TEXT ·prefetchRowsAMD64(SB), NOSPLIT, $0-56
	MOVQ mat_base+0(FP), SI
	MOVQ ids_base+24(FP), R8
	MOVQ ids_len+32(FP), R9
	MOVQ dim+48(FP), R10
	SHLQ $2, R10             // row bytes
	XORQ R12, R12

pfrow:
	CMPQ    R12, R9
	JGE     pfdone
	MOVLQSX (R8)(R12*4), AX
	IMULQ   R10, AX
	LEAQ    (SI)(AX*1), AX
	XORQ    BX, BX

pfline:
	PREFETCHT0 (AX)(BX*1)
	ADDQ       $64, BX
	CMPQ       BX, R10
	JL         pfline
	INCQ       R12
	JMP        pfrow

pfdone:
	RET
