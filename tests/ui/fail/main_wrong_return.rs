type Code = u8;

#[graceful::main]
async fn main() -> Code {
    0
}
