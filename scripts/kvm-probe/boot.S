    .code16
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %sp
    /* real mode: 'R' on COM1 */
    mov $0x3f8, %dx
    mov $'R', %al
    out %al, %dx
    lgdt gdtr
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmp $0x08, $pm
    .code32
pm:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov %ax, %es
    mov $0x7000, %esp
    /* iret to the next label, as boot loaders do */
    pushfl
    pushl $0x08
    pushl $after
    iret
after:
    /* through: reset the machine (an empty IDT makes the next interrupt a triple fault) */
    lidt idtr
    int $3
    hlt
    .p2align 2
idtr:
    .word 0
    .long 0
    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
gdtr:
    .word gdtr - gdt - 1
    .long gdt
    .org 510
    .word 0xaa55
