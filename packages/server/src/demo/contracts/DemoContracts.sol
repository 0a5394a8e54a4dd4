// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// The token the demo's wallets hold and send to each other; its owner mints more.
contract DemoToken is ERC20, Ownable {
    constructor() ERC20("Demo Token", "DEMO") Ownable(msg.sender) {
        _mint(msg.sender, 1_000_000 ether);
    }

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}

/// The collectible the demo mints to its wallets now and then.
contract DemoCollectible is ERC721, Ownable {
    uint256 public minted;

    constructor() ERC721("Demo Collectible", "DCOL") Ownable(msg.sender) {}

    function mint(address to) external onlyOwner returns (uint256 tokenId) {
        tokenId = ++minted;
        _mint(to, tokenId);
    }
}
