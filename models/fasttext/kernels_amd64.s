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

// func axpyAVX2(alpha float32, x, y []float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ         x_base+8(FP), SI
	MOVQ         x_len+16(FP), CX
	MOVQ         y_base+32(FP), DI

axpy16:
	CMPQ        CX, $16
	JL          axpy8
	VMOVUPS     (DI), Y1
	VMOVUPS     32(DI), Y2
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VMOVUPS     Y1, (DI)
	VMOVUPS     Y2, 32(DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         axpy16

axpy8:
	CMPQ        CX, $8
	JL          axpy1
	VMOVUPS     (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         axpy8

axpy1:
	CMPQ        CX, $0
	JE          axpydone
	VMOVSS      (DI), X1
	VFMADD231SS (SI), X0, X1
	VMOVSS      X1, (DI)
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JMP         axpy1

axpydone:
	VZEROUPPER
	RET

// func addAVX2(x, y []float32)
TEXT ·addAVX2(SB), NOSPLIT, $0-48
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI

add16:
	CMPQ    CX, $16
	JL      add8
	VMOVUPS (DI), Y1
	VMOVUPS 32(DI), Y2
	VADDPS  (SI), Y1, Y1
	VADDPS  32(SI), Y2, Y2
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     add16

add8:
	CMPQ    CX, $8
	JL      add1
	VMOVUPS (DI), Y1
	VADDPS  (SI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     add8

add1:
	CMPQ   CX, $0
	JE     adddone
	VMOVSS (DI), X1
	VADDSS (SI), X1, X1
	VMOVSS X1, (DI)
	ADDQ   $4, SI
	ADDQ   $4, DI
	DECQ   CX
	JMP    add1

adddone:
	VZEROUPPER
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
