fn main() {
    println!("vault: under construction");
}
